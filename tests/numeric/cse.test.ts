/** cse keeps outputs within 1e-5 and leaves fewer nodes. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Model, tensorType } from '../../src/ir/index.js';
import { HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent, seeded } from './equivalence.js';

describe('cse', () => {
  it('merges duplicates built with the Builder (seeded inputs)', async () => {
    const g = new Graph('cse');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [8]));
    const w = b.constant('w', seeded([8], 1));
    b.output(b.op('onnx.Add', [b.op('onnx.Mul', [x, w]), b.op('onnx.Mul', [w, x])]), b.op('onnx.Exp', [x]), b.op('onnx.Neg', [b.op('onnx.Exp', [x])]));
    const { after } = await expectEquivalent(new Model(g), 'cse', [seeded([8], 2)]);
    expect(after).toEqual({ 'onnx.Mul': 1, 'onnx.Add': 1, 'onnx.Exp': 1, 'onnx.Neg': 1 });
  });

  it.skipIf(!HAS_SHARED)('public/silero-vad-v3-micro: fewer nodes after cse,dce', async () => {
    const { model, inputs } = corpusCase('public/silero-vad-v3-micro');
    const count = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    const { before, after } = await expectEquivalent(model, 'canonicalize,fold-constants,cse,dce', inputs);
    expect(count(after)).toBeLessThan(count(before));
  });
});
