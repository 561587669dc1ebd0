/**
 * outlier-tune keeps float outputs within 1e-5 relative while it shifts and scales linear-layer
 * inputs into the consumers, and per-tensor symmetric quantization of the new activation X̃
 * gives the integers per-channel symmetric quantization of X − z gave.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDataDir } from '../../src/frontends/onnx/testdata.js';
import { Builder, Graph, Model, Tensor, tensorType } from '../../src/ir/index.js';
import { run } from '../../src/interp/interpreter.js';
import { runPipeline } from '../../src/passes/index.js';
import { type OutlierTuneTarget, outlierTuneParams } from '../../src/passes/outlier-tune.js';
import { siteStats } from '../../src/quant/migrate.js';
import { type QuantParams, quantize } from '../../src/quant/quantizer.js';
import { firstRows } from '../../src/quant/samples.js';
import { CORPUS, HAS_SHARED, ROOT } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

/** The golden tests' calibration data: x: f32[8,4], channel 2 an asymmetric outlier (a copy of os-plus's). */
const LIT_CALIB = join(ROOT, 'tests/lit/passes/outlier-tune/Inputs/calib');

/** Constants the pass wrote (`…_migrated` weights and norm parameters). */
const migrated = (g: Graph): number => g.constants.filter((c) => c.name.endsWith('_migrated')).length;

/** x → LayerNorm(γ, β) with channel 2 an outlier → MatMul + Add: the lit test's first graph. */
function layerNormGraph(): Graph {
  const g = new Graph('outlier_tune');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', ['batch', 4]));
  const ln = b.op('onnx.LayerNormalization', [x, b.constant('gamma', Tensor.from('f32', [4], [1, 0.5, 8, 1])),
    b.constant('beta', Tensor.from('f32', [4], [0, 0.25, 6, -0.5]))], { axis: -1 }, { out: 'y' });
  b.output(b.op('onnx.Add', [b.op('onnx.MatMul', [ln, b.constant('w', seeded([4, 3], 1))]), b.constant('b', seeded([3], 2))]));
  return g;
}

describe('outlier-tune', () => {
  it('LayerNorm, RMSNorm (explicit Sub) and a Relu (explicit Sub / Mul) stay equivalent on seeded inputs', async () => {
    const g = new Graph('outlier_tune');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [8, 4]));
    const gamma = b.constant('gamma', Tensor.from('f32', [4], [1, 0.5, 8, 1]));
    const ln = b.op('onnx.LayerNormalization', [x, gamma, b.constant('beta', Tensor.from('f32', [4], [0, 0.25, 6, -0.5]))], { axis: -1 });
    const y1 = b.op('onnx.Add', [b.op('onnx.MatMul', [ln, b.constant('w1', seeded([4, 3], 1))]), b.constant('b1', seeded([3], 2))]);
    const y2 = b.op('onnx.MatMul', [ln, b.constant('w2', seeded([4, 2], 3))]);
    const rms = b.op('onnx.RMSNormalization', [x, b.constant('gamma_rms', Tensor.from('f32', [4], [1, 0.5, 8, 1]))], { axis: -1 });
    const y3 = b.op('onnx.MatMul', [rms, b.constant('w3', seeded([4, 3], 4))]);
    const y4 = b.op('onnx.MatMul', [b.op('onnx.Relu', [x]), b.constant('w4', seeded([4, 3], 5))]);
    b.output(y1, y2, y3, y4);
    const input = Tensor.from('f32', [8, 4], seeded([8, 4], 9).toNumbers().map((v, i) => (i % 4 === 2 ? 15 + 10 * v : v)));
    const { before, after } = await expectEquivalent(new Model(g), `outlier-tune{calib=${LIT_CALIB},explicit=true,force=true}`, [input]);
    // a Sub for the RMSNorm's shift, Sub + Mul between the Relu and its MatMul, Adds for the new biases of y2, y3, y4
    expect(after).toEqual({ ...before, 'onnx.Sub': 2, 'onnx.Mul': 1, 'onnx.Add': 4 });
    expect(migrated(g)).toBeGreaterThan(0);
  });

  it('a linear that absorbs one site and consumes another keeps both migrations exact', async () => {
    // LayerNorm → MatMul w1 → MatMul w2: the first MatMul is the consumer of the norm's site and
    // the absorber of its own output's site (outlier columns 1 and 5 of w1)
    const g = new Graph('outlier_tune_chain');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [8, 4]));
    const ln = b.op('onnx.LayerNormalization', [x, b.constant('gamma', Tensor.from('f32', [4], [1, 0.5, 8, 1])),
      b.constant('beta', Tensor.from('f32', [4], [0, 0.25, 6, -0.5]))], { axis: -1 });
    const w1 = seeded([4, 16], 1, 1).toNumbers().map((v, i) => (i % 16 === 1 ? 30 * v + 10 : i % 16 === 5 ? 20 * v - 15 : v));
    const h = b.op('onnx.MatMul', [ln, b.constant('w1', Tensor.from('f32', [4, 16], w1))]);
    b.output(b.op('onnx.MatMul', [h, b.constant('w2', seeded([16, 3], 2, 1))]));
    const input = Tensor.from('f32', [8, 4], seeded([8, 4], 9, 1).toNumbers().map((v, i) => (i % 4 === 2 ? 15 + 10 * v : v)));
    const lines: string[] = [];
    const reference = run(g, [input])[0]!.toNumbers();
    await runPipeline(new Model(g), `outlier-tune{calib=${LIT_CALIB},force=true}`, { verifyEach: true, log: (l) => lines.push(l) });
    expect(lines.filter((l) => /shifted, absorbed by/.test(l))).toHaveLength(2);
    const got = run(g, [input])[0]!.toNumbers();
    const worst = Math.max(...got.map((v, i) => Math.abs(v - reference[i]!)));
    expect(worst).toBeLessThanOrEqual(1e-5 * Math.max(...reference.map(Math.abs)));
  });

  it('without explicit, unabsorbable sites are left alone', async () => {
    const g = new Graph('outlier_tune_skip');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [8, 4]));
    b.output(b.op('onnx.MatMul', [b.op('onnx.Relu', [x]), b.constant('w', seeded([4, 3], 1))]));
    const { before, after } = await expectEquivalent(new Model(g), `outlier-tune{calib=${LIT_CALIB}}`, [seeded([8, 4], 2)]);
    expect(after).toEqual(before);
    expect(migrated(g)).toBe(0);
  });

  it('s_j = a_j / ā, z_j the channel midpoint; a constant channel keeps s = 1', () => {
    const p = outlierTuneParams({ min: Float64Array.of(-1, 0, 5, 3), max: Float64Array.of(1, 4, 45, 3), absMax: Float64Array.of(1, 4, 45, 3) }, true, 'median')!;
    expect([...p.z!]).toEqual([0, 2, 25, 3]);
    expect([...p.amplitude]).toEqual([1, 2, 20, 0]);
    expect(p.target).toBe(2);
    expect([...p.s]).toEqual([0.5, 1, 10, 1]);
    expect(p.dead).toBe(1);
    expect(outlierTuneParams({ min: Float64Array.of(2), max: Float64Array.of(2), absMax: Float64Array.of(2) }, true, 'max')).toBeUndefined();
  });

  // Δ·round(X̃_j / Δ)·s_j = Δ_j·round((X_j − z_j) / Δ_j) with Δ = ā/127, Δ_j = a_j/127: equal integers, element for element
  it.each(['median', 'mean', 'max'] as OutlierTuneTarget[])('target=%s: per-tensor int8 on X̃ gives the per-channel int8 codes of X − z', async (target) => {
    const original = layerNormGraph();
    const rewritten = layerNormGraph();
    const site = original.nodes.find((n) => n.op === 'onnx.LayerNormalization')!.outputs[0]!;
    const st = siteStats(original, [site], LIT_CALIB).get(site)!;
    const p = outlierTuneParams(st, true, target)!;
    await runPipeline(new Model(rewritten), `outlier-tune{calib=${LIT_CALIB},target=${target},force=true}`, { verifyEach: true });
    const capture = (g: Graph, x: Tensor): Float32Array => {
      let out: Float32Array | undefined;
      run(g, [x], { onNode: (n, outs) => { if (n.outputs[0]?.name === 'y') out = outs[0]!.data as Float32Array; } });
      return out!;
    };
    const perChannel: QuantParams = { scheme: { format: 'int8', symmetric: true, granularity: 'channel', axis: -1 },
      scale: Float32Array.from(p.amplitude, (a) => a / 127), zero: new Int32Array(4), shape: [4] };
    const perTensor: QuantParams = { scheme: { format: 'int8', symmetric: true, granularity: 'tensor' },
      scale: Float32Array.of(p.target / 127), zero: Int32Array.of(0), shape: [] };
    let elements = 0;
    let differ = 0;
    for (const set of readDataDir(LIT_CALIB)) {
      const x = set.inputs[0]!;
      const centred = Float32Array.from(capture(original, x), (v, i) => v - p.z![i % 4]!);
      const q = quantize(new Tensor('f32', [x.shape[0]!, 4], centred), perChannel).toNumbers();
      const q2 = quantize(new Tensor('f32', [x.shape[0]!, 4], capture(rewritten, x)), perTensor).toNumbers();
      q.forEach((v, i) => { elements++; if (v !== q2[i]) { differ++; expect(Math.abs(v - q2[i]!)).toBe(1); } });
      // every channel of X̃ spans [−ā, ā] on the calibration data: the codes fill [−127, 127]
      expect(Math.max(...q2.map(Math.abs))).toBe(127);
    }
    expect(elements).toBe(64);
    // only float rounding of X̃ can move a value sitting on a .5 tie
    expect(differ).toBeLessThanOrEqual(1);
  });

  // char_lm runs ~0.25 s per sequence in the interpreter: 2 calibration samples, 2 eval rows;
  // force=true migrates every absorbable site, so each rewrite is checked
  it.skipIf(!HAS_SHARED).each([
    ['digits_vit', 'calib', 9],
    ['digits_vit_outlier', 'calib', 9],
    ['char_lm', 'calib', 9],
    ['char_lm_outlier', 'calib', 9],
    ['public/chessgpt', 'data', 17],
    ['public/silero-vad-v3-micro', 'data', 0],
  ])('%s: equivalent within 1e-5 after outlier-tune', async (name, calib, norms) => {
    const { model, inputs } = corpusCase(name);
    const rows = inputs.map((t) => (t.rank > 1 && t.shape[0]! > 2 ? firstRows(t, 2) : t));
    const { before, after } = await expectEquivalent(model, `outlier-tune{calib=${join(CORPUS, name, calib)},samples=2,force=true}`, rows);
    expect(after['onnx.LayerNormalization']).toBe(before['onnx.LayerNormalization']);
    // LayerNorms that feed linear layers take a new γ (silero-vad-v3-micro's decomposed norms feed Add and Shape: no site)
    const lnGammas = model.graph.nodes.filter((n) => n.op === 'onnx.LayerNormalization' && n.inputs[1]!.name.endsWith('_migrated'));
    expect(lnGammas.length).toBe(norms);
  }, 120_000);
});
