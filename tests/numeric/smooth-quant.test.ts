/**
 * smooth-quant keeps float outputs within 1e-5 (alpha 0.5 and auto) on Builder graphs and the
 * corpus, folds into the producers without Muls, and restores W8A8 accuracy on digits_vit_outlier.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '../../src/frontends/onnx/import.js';
import { readDataDir, readTensor } from '../../src/frontends/onnx/testdata.js';
import { run } from '../../src/interp/interpreter.js';
import { Builder, Graph, Model, type Tensor, tensorType } from '../../src/ir/index.js';
import { runPipeline } from '../../src/passes/index.js';
import { applyRecipe } from '../../src/quant/apply.js';
import { validateRecipe } from '../../src/quant/recipe.js';
import { firstRows } from '../../src/quant/samples.js';
import { CORPUS, HAS_SHARED, ROOT } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

/** x: f32[batch,4], channel 2 ×40 (tests/lit/passes/smooth-quant/Inputs/make-calib.ts). */
const LIT_CALIB = join(ROOT, 'tests/lit/passes/smooth-quant/Inputs/calib');

/** LayerNorm → Q, K, V; a decomposed norm's Mul(γ) + Add(β) → two linears; linear → linear → linear; Relu → a Gemm. */
function builderModel(): Model {
  const g = new Graph('sq');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', ['batch', 4]));
  const c = (name: string, shape: number[], seed: number, scale = 1) => b.constant(name, seeded(shape, seed, scale));
  const ln = b.op('onnx.LayerNormalization', [x, c('gamma', [4], 1), c('beta', [4], 2)], { axis: -1 });
  const [q, k, v] = [3, 4, 5].map((s) => b.op('onnx.MatMul', [ln, c(`w${s}`, [4, 3], s)]));
  const affine = b.op('onnx.Add', [b.op('onnx.Mul', [x, c('g2', [4], 6)]), c('b2', [4], 7)]);
  const a1 = b.op('onnx.MatMul', [affine, c('w8', [4, 5], 8)]);
  const a2 = b.op('onnx.Gemm', [affine, c('w9', [2, 4], 9), c('c9', [2], 10)], { transB: 1 });
  const h = b.op('onnx.MatMul', [a1, c('w11', [5, 4], 11)]);
  const y = b.op('onnx.MatMul', [h, c('w12', [4, 2], 12)]);
  const z = b.op('onnx.Gemm', [b.op('onnx.Relu', [x]), c('w13', [4, 2], 13)]);
  b.output(q!, k!, v!, a2, y, z);
  return new Model(g);
}

describe('smooth-quant', () => {
  it.each(['0.5', 'auto'])('alpha=%s: Builder graph equivalent, no Mul added (the Relu → Gemm site is skipped)', async (alpha) => {
    const x = seeded([6, 4], 90, 3);
    const model = builderModel();
    const { before, after } = await expectEquivalent(model, `smooth-quant{alpha=${alpha},calib=${LIT_CALIB}}`, [x]);
    expect(after).toEqual(before);
    const read = new Set(model.graph.nodes.flatMap((n) => n.inputs).filter((v) => v?.isConst).map((v) => v!.name));
    expect(['gamma', 'beta', 'w3', 'w4', 'w5', 'g2', 'b2', 'w8', 'w9', 'w11', 'w12'].filter((n) => read.has(n)), 'constants left unmigrated').toEqual([]);
    expect(read.has('w13')).toBe(true);
    expect(model.graph.constants.map((v) => v.name), 'replaced constants are erased').not.toContain('w3');
  });

  it('explicit=true: a Mul for each site nothing absorbs, still equivalent', async () => {
    const { before, after } = await expectEquivalent(builderModel(), `smooth-quant{explicit=true,calib=${LIT_CALIB}}`, [seeded([6, 4], 91, 3)]);
    expect(after['onnx.Mul']).toBe(before['onnx.Mul']! + 1);
  });

  it('without calibration data it says how to give it', async () => {
    await expect(expectEquivalent(builderModel(), 'smooth-quant', [seeded([6, 4], 92)])).rejects.toThrow(/calib=<dir>/);
    await expect(expectEquivalent(builderModel(), `smooth-quant{alpha=2,calib=${LIT_CALIB}}`, [seeded([6, 4], 92)])).rejects.toThrow(/alpha must be/);
  });

  // [model, calib dir, calibration samples, eval rows, explicit]. silero-vad-v3-micro is post-norm (every norm
  // output also feeds the residual Add), so only explicit=true gives it sites: after a Transpose and a Relu.
  const cases: [string, string, number, number, boolean][] = [
    ['digits_vit', 'calib', 16, 8, false],
    ['digits_vit_outlier', 'calib', 16, 8, false],
    ['char_lm', 'calib', 4, 2, false],
    ['char_lm_outlier', 'calib', 4, 2, false],
    ['public/chessgpt', 'data', 4, 4, false],
    ['public/silero-vad-v3-micro', 'data', 4, 4, true],
  ];
  for (const alpha of ['0.5', 'auto']) {
    it.skipIf(!HAS_SHARED).each(cases)(`%s, alpha=${alpha}: outputs within 1e-5`, async (name, calib, samples, rows, explicit) => {
      const { model, inputs } = corpusCase(name);
      const batched = inputs.map((t, i) => (typeof model.graph.inputs[i]?.type.shape?.[0] === 'string' && t.shape[0]! > rows ? firstRows(t, rows) : t));
      const pipeline = `smooth-quant{alpha=${alpha},calib=${join(CORPUS, name, calib)},samples=${samples},rows=64,explicit=${explicit}}`;
      const { before, after } = await expectEquivalent(model, pipeline, batched);
      if (explicit) expect(after['onnx.Mul']).toBe(before['onnx.Mul']! + 8);
      else expect(after).toEqual(before);
    }, 60_000);
  }

  it.skipIf(!HAS_SHARED)('logs one line per folded site', async () => {
    const { model } = corpusCase('digits_vit_outlier');
    const lines: string[] = [];
    await runPipeline(model, `smooth-quant{calib=${join(CORPUS, 'digits_vit_outlier/calib')},samples=8}`, { log: (l) => lines.push(l) });
    // 8 block norms and the final norm, folded through the CLS-token Gather into the head
    expect(lines.filter((l) => /α=0\.5, folded into onnx\.LayerNormalization/.test(l))).toHaveLength(9);
    expect(lines.some((l) => /through onnx\.Gather/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^smooth-quant: 9 sites migrated \(9 norm\), 0 explicit Muls, 8 skipped/);
  });

  it.skipIf(!HAS_SHARED)('digits_vit_outlier under W8A8: smooth-quant restores the float accuracy (interpreter, 120 images)', async () => {
    const dir = join(CORPUS, 'digits_vit_outlier');
    const [set] = readDataDir(join(dir, 'eval'));
    const n = 120;
    const images = firstRows(set!.inputs[0]!, n);
    const labels = Array.from(readTensor(join(dir, 'eval/labels.pb')).toNumbers().slice(0, n));
    const accuracy = (logits: Tensor) => {
      const d = logits.toNumbers();
      const c = logits.shape[1]!;
      let hits = 0;
      labels.forEach((label, i) => {
        const row = d.slice(i * c, (i + 1) * c);
        if (row.indexOf(Math.max(...row)) === label) hits++;
      });
      return hits / n;
    };
    const w8a8 = (passes: string) => validateRecipe({
      name: 'w8a8-test', passes,
      defaults: {
        weights: { type: 'int8', granularity: 'channel', symmetric: true, rounding: 'rtn' },
        activations: { type: 'uint8', granularity: 'tensor', symmetric: false, observer: { kind: 'mse' }, mode: 'static' },
      },
    }, 'test');
    const measure = async (passes: string) => {
      const model = loadOnnx(join(dir, 'model.onnx'));
      await applyRecipe(model, w8a8(passes), { calib: join(dir, 'calib') });
      return accuracy(run(model.graph, [images])[0]!);
    };
    const float = accuracy(run(loadOnnx(join(dir, 'model.onnx')).graph, [images])[0]!);
    const plain = await measure('');
    const smooth = await measure('smooth-quant{alpha=0.5}');
    expect(plain).toBeLessThan(float - 0.03);
    expect(smooth).toBeGreaterThanOrEqual(float - 0.005);
  }, 60_000);
});
