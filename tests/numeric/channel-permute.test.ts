/**
 * channel-permute only reorders channels (float outputs within 1e-5 relative) for every way a
 * permutation is absorbed — norm γ/β with the linear before it, a decomposed norm's constants,
 * a linear's output columns, explicit Gathers — and it lowers the group-quantized weight error
 * when outlier rows are spread over the groups.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, Tensor, constantOf, tensorType } from '../../src/ir/index.js';
import { channelOrder, groupError } from '../../src/passes/channel-permute.js';
import { runPipeline } from '../../src/passes/index.js';
import type { QuantScheme } from '../../src/quant/quantizer.js';
import { firstRows } from '../../src/quant/samples.js';
import { CORPUS, HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

/** Constants the pass wrote. */
const permuted = (g: Graph): number => g.constants.filter((c) => c.name.endsWith('_permuted')).length;

/** `seeded` with the rows in `rows` of a [K, N] weight scaled by `by`: outlier rows spread over the groups. */
function outlierRows(shape: [number, number], seed: number, rows: number[], by: number): Tensor {
  const t = seeded(shape, seed, 1);
  const d = t.data as Float32Array;
  for (const r of rows) for (let j = 0; j < shape[1]; j++) d[r * shape[1] + j]! *= by;
  return t;
}

/** K = 16 hidden channels with outlier rows 1, 6, 11 in the consumer (groups of 4 → three groups hit). */
const W2 = (): Tensor => outlierRows([16, 6], 3, [1, 6, 11], 20);

describe('channel-permute', () => {
  it('norm: a linear → LayerNorm → {MatMul, Gather(CLS) → Gemm transB} space stays equivalent', async () => {
    const g = new Graph('norm');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [2, 5, 8]));
    const h = b.op('onnx.Add', [b.op('onnx.MatMul', [x, b.constant('w0', seeded([8, 16], 1, 1))]), b.constant('b0', seeded([16], 2, 1))]);
    const n = b.op('onnx.LayerNormalization', [h, b.constant('gamma', seeded([16], 4, 2)), b.constant('beta', seeded([16], 5, 1))], { axis: -1 });
    const y1 = b.op('onnx.MatMul', [n, b.constant('w1', W2())]);
    const cls = b.op('onnx.Gather', [n, b.constant('idx', Tensor.from('i64', [], [0]))], { axis: 1 });
    const w2t = outlierRows([16, 5], 6, [2, 9], 15);
    const wT = Tensor.from('f32', [5, 16], Array.from({ length: 80 }, (_, i) => w2t.data[(i % 16) * 5 + Math.floor(i / 16)]!));
    const y2 = b.op('onnx.Gemm', [cls, b.constant('w2', wT), b.constant('c2', seeded([5], 7, 1))], { transB: 1 });
    b.output(y1, y2);
    const { before, after } = await expectEquivalent(new Model(g), 'channel-permute{group=4}', [seeded([2, 5, 8], 9, 2)]);
    expect(after).toEqual(before);
    // w0 columns, b0, γ, β, w1 rows, w2 columns (transB): one space
    expect(permuted(g)).toBe(6);
  });

  it('norm: RMSNormalization after an embedding Gather and a positional Add stays equivalent', async () => {
    const g = new Graph('rms');
    const b = new Builder(g);
    const ids = b.input('ids', tensorType('i64', [2, 3]));
    const e = b.op('onnx.Gather', [b.constant('table', seeded([10, 16], 1, 1)), ids], { axis: 0 });
    const h = b.op('onnx.Add', [e, b.constant('pos', seeded([3, 16], 2, 1))]);
    const n = b.op('onnx.RMSNormalization', [h, b.constant('gamma', seeded([16], 3, 2))], { axis: -1 });
    b.output(b.op('onnx.MatMul', [n, b.constant('w1', W2())]));
    const input = Tensor.from('i64', [2, 3], [1, 4, 9, 0, 7, 3]);
    const { before, after } = await expectEquivalent(new Model(g), 'channel-permute{group=4}', [input]);
    expect(after).toEqual(before);
    expect(permuted(g)).toBe(4);
  });

  it('affine: a decomposed LayerNorm (ReduceMean … Mul γ, Add β) after a linear stays equivalent', async () => {
    const g = new Graph('affine');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [6, 8]));
    const h = b.op('onnx.MatMul', [x, b.constant('w0', seeded([8, 16], 1, 1))]);
    const axes = b.constant('axes', Tensor.from('i64', [1], [-1]));
    const d = b.op('onnx.Sub', [h, b.op('onnx.ReduceMean', [h, axes])]);
    const v = b.op('onnx.ReduceMean', [b.op('onnx.Mul', [d, d]), axes]);
    const xn = b.op('onnx.Div', [d, b.op('onnx.Sqrt', [b.op('onnx.Add', [v, b.constant('eps', Tensor.scalar('f32', 1e-5))])])]);
    const n = b.op('onnx.Add', [b.op('onnx.Mul', [xn, b.constant('gamma', seeded([16], 4, 2))]), b.constant('beta', seeded([16], 5, 1))]);
    b.output(b.op('onnx.MatMul', [n, b.constant('w1', W2())]));
    const { before, after } = await expectEquivalent(new Model(g), 'channel-permute{group=4}', [seeded([6, 8], 9, 2)]);
    expect(after).toEqual(before);
    expect(permuted(g)).toBe(4);
  });

  it('linear: an MLP (Gemm + bias → GELU written out → MatMul) stays equivalent', async () => {
    const g = new Graph('mlp');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [6, 8]));
    const h = b.op('onnx.Gemm', [x, b.constant('w0', seeded([8, 16], 1, 1)), b.constant('b0', seeded([16], 2, 1))]);
    const erf = b.op('onnx.Erf', [b.op('onnx.Div', [h, b.constant('sqrt2', Tensor.scalar('f32', Math.SQRT2))])]);
    const gelu = b.op('onnx.Mul', [b.op('onnx.Mul', [h, b.op('onnx.Add', [erf, b.constant('one', Tensor.scalar('f32', 1))])]), b.constant('half', Tensor.scalar('f32', 0.5))]);
    b.output(b.op('onnx.MatMul', [gelu, b.constant('w1', W2())]));
    const { before, after } = await expectEquivalent(new Model(g), 'channel-permute{group=4}', [seeded([6, 8], 9, 2)]);
    expect(after).toEqual(before);
    expect(permuted(g)).toBe(3);
  });

  it('a linear that reads and writes the same space (y = h + h·W) gets rows and columns permuted', async () => {
    const g = new Graph('residual_linear');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [6, 8]));
    const h = b.op('onnx.MatMul', [x, b.constant('w0', seeded([8, 16], 1, 1))]);
    const y = b.op('onnx.Add', [h, b.op('onnx.MatMul', [h, b.constant('w1', seeded([16, 16], 2, 1))])]);
    b.output(b.op('onnx.MatMul', [y, b.constant('w2', seeded([16, 6], 3, 1))]));
    const { before, after } = await expectEquivalent(new Model(g), 'channel-permute{group=4}', [seeded([6, 8], 9, 2)]);
    expect(after).toEqual(before);
    // w0 columns, w1 rows then columns (one constant in the end), w2 rows
    expect(permuted(g)).toBe(3);
    expect(g.constants.map((c) => c.name)).toContain('w1_permuted_permuted');
  });

  it('explicit: a graph input and a graph output get Gathers (skipped without explicit=true)', async () => {
    const build = (): Model => {
      const g = new Graph('explicit');
      const b = new Builder(g);
      const x = b.input('x', tensorType('f32', [6, 16]));
      const n = b.op('onnx.LayerNormalization', [x, b.constant('gamma', seeded([16], 4, 2)), b.constant('beta', seeded([16], 5, 1))], { axis: -1 }, { out: 'n' });
      b.output(b.op('onnx.MatMul', [n, b.constant('w1', W2())]), n);
      return new Model(g);
    };
    const input = [seeded([6, 16], 9, 2)];
    const skipped = build();
    const r0 = await expectEquivalent(skipped, 'channel-permute{group=4}', input);
    expect(r0.after).toEqual(r0.before);
    expect(permuted(skipped.graph)).toBe(0);
    const m = build();
    const { before, after } = await expectEquivalent(m, 'channel-permute{group=4,explicit=true}', input);
    expect(after).toEqual({ ...before, 'onnx.Gather': 2 });
    expect(m.graph.outputs.map((v) => v.name)).toContain('n');
  });

  it('a Transpose that moves the channels stops the space', async () => {
    const g = new Graph('transpose');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [16, 16]));
    const h = b.op('onnx.MatMul', [x, b.constant('w0', seeded([16, 16], 1, 1))]);
    b.output(b.op('onnx.MatMul', [b.op('onnx.Transpose', [h], { perm: [1, 0] }), b.constant('w1', W2())]));
    const lines: string[] = [];
    await runPipeline(new Model(g), 'channel-permute{group=4}', { verifyEach: true, log: (l) => lines.push(l) });
    expect(lines.join('\n')).toMatch(/skipped, the channels cannot pass %transpose: onnx.Transpose .* moves the channel axis/);
    expect(permuted(g)).toBe(0);
  });

  it('groups outlier rows together and lowers the group-quantized weight error', async () => {
    const scheme: QuantScheme = { format: 'int4', symmetric: false, granularity: 'group', group: 16 };
    // 16 outlier rows (×30), every 4th: each of the four groups of 16 holds four of them
    const rows = Array.from({ length: 16 }, (_, i) => 4 * i + 1);
    const w1 = outlierRows([64, 8], 11, rows, 30);
    const g = new Graph('outliers');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [4, 8]));
    const h = b.op('onnx.Relu', [b.op('onnx.MatMul', [x, b.constant('w0', seeded([8, 64], 1, 1))])]);
    const y = b.op('onnx.MatMul', [h, b.constant('w1', w1)]);
    b.output(y);
    const order = channelOrder(Float64Array.from({ length: 64 }, (_, j) => Math.max(...Array.from({ length: 8 }, (_, n) => Math.abs(Number(w1.data[j * 8 + n]))))));
    expect([...order.slice(0, 16)].sort((p, q) => p - q)).toEqual(rows);
    await expectEquivalent(new Model(g), 'channel-permute{group=16}', [seeded([4, 8], 2, 1)]);
    const after = constantOf(g, y.producer!.inputs[1]!)!;
    // the outlier rows' own rounding error hardly changes (their groups' ranges are theirs either
    // way); the other rows, no longer sharing a group with them, get 16× finer steps
    const others = Float64Array.from({ length: 64 }, (_, j) => (rows.includes(j) ? 0 : 1));
    const othersAfter = Float64Array.from(order, (j) => others[j]!);
    expect(groupError(after, 0, scheme, undefined, othersAfter)).toBeLessThan(groupError(w1, 0, scheme, undefined, others) / 20);
    expect(groupError(after, 0, scheme)).toBeLessThan(groupError(w1, 0, scheme));
    // the pass's own measurement agrees: permuting w1's rows by the order gives the same error
    expect(groupError(w1, 0, scheme, order)).toBeCloseTo(groupError(after, 0, scheme), 10);
  });

  it('by=activation needs calibration data', async () => {
    const g = new Graph('no_calib');
    const b = new Builder(g);
    b.output(b.op('onnx.MatMul', [b.op('onnx.Relu', [b.input('x', tensorType('f32', [4, 16]))]), b.constant('w1', W2())]));
    await expect(runPipeline(new Model(g), 'channel-permute{by=activation}')).rejects.toThrow(/calib/);
  });

  // char_lm runs ~0.25 s per sequence in the interpreter: 2 calibration samples, 2 eval rows
  it.skipIf(!HAS_SHARED).each([
    ['digits_vit', 'calib', ''],
    ['digits_vit_outlier', 'calib', ',explicit=true'],
    ['char_lm', 'calib', ',by=activation,group=16'],
    ['char_lm_outlier', 'calib', ',explicit=true'],
    ['public/chessgpt', 'data', ',group=4'], // d = 8, MLP 32: groups of 4 so that something moves
    ['public/silero-vad-v3-micro', 'data', ',group=4,explicit=true'], // unranked types; Transposes around each block: Gathers
  ])('%s: equivalent within 1e-5 after channel-permute', async (name, calib, extra) => {
    const { model, inputs } = corpusCase(name);
    const rows = inputs.map((t) => (t.rank > 1 && t.shape[0]! > 2 ? firstRows(t, 2) : t));
    const { before, after } = await expectEquivalent(model, `channel-permute{calib=${join(CORPUS, name, calib)},samples=2${extra}}`, rows);
    expect(permuted(model.graph)).toBeGreaterThan(0);
    if (extra.includes('explicit')) expect(after['onnx.Gather'] ?? 0).toBeGreaterThan(before['onnx.Gather'] ?? 0);
    else expect(after).toEqual(before);
  });
});
