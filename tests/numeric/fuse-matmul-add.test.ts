/** fuse-matmul-add keeps outputs within 1e-5; 2-D products become Gemm, batched ones fused.MatMulAdd. */
import { describe, expect, it } from 'vitest';
import { run } from '../../src/interp/interpreter.js';
import { Builder, getOp, Graph, Model, tensorType } from '../../src/ir/index.js';
import { HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

describe('fuse-matmul-add', () => {
  it('fuses 2-D and batched products built with the Builder (seeded inputs)', async () => {
    const g = new Graph('mm');
    const b = new Builder(g);
    const a = b.input('a', tensorType('f32', [4, 6]));
    const t = b.input('t', tensorType('f32', [2, 4, 6]));
    const w = b.constant('w', seeded([6, 3], 1));
    b.output(b.op('onnx.Add', [b.op('onnx.MatMul', [a, w]), b.constant('c', seeded([3], 2))]),
      b.op('onnx.Add', [b.constant('c', seeded([4, 1], 3)), b.op('onnx.MatMul', [t, w])]));
    const { after } = await expectEquivalent(new Model(g), 'fuse-matmul-add', [seeded([4, 6], 4), seeded([2, 4, 6], 5)]);
    expect(after).toEqual({ 'onnx.Gemm': 1, 'fused.MatMulAdd': 1 });
  });

  it('fused.MatMulAdd expands back to MatMul + Add for export', async () => {
    const g = new Graph('mm');
    const b = new Builder(g);
    const t = b.input('t', tensorType('f32', [2, 4, 6]));
    const fused = b.op('fused.MatMulAdd', [t, b.constant('w', seeded([6, 3], 1)), b.constant('c', seeded([3], 2))]);
    b.output(fused);
    const inputs = [seeded([2, 4, 6], 3)];
    const want = run(g, inputs)[0]!.toNumbers();
    b.insertionPoint = fused.producer!;
    const [y] = getOp('fused.MatMulAdd')!.expand!(fused.producer!, b);
    g.replaceAllUses(fused, y!);
    g.remove(fused.producer!);
    expect(g.nodes.map((n) => n.op)).toEqual(['onnx.MatMul', 'onnx.Add']);
    expect(run(g, inputs)[0]!.toNumbers()).toEqual(want);
  });

  it.skipIf(!HAS_SHARED).each([
    ['digits_vit', { 'fused.MatMulAdd': 16 }],
    ['public/mnist-8', { 'onnx.Gemm': 1 }],
    ['public/yamnet256-esc10', { 'onnx.Gemm': 1 }],
  ])('%s fuses to %o', async (name, fused) => {
    const { model, inputs } = corpusCase(name);
    const { after } = await expectEquivalent(model, 'fuse-matmul-add', inputs);
    expect(after).toMatchObject(fused);
  });
});
