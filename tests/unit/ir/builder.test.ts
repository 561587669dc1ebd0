import { describe, expect, it } from 'vitest';
import { Builder, Graph, Tensor, tensorType, verify, formatType } from '../../../src/ir/index.js';
import { run } from '../../../src/interp/interpreter.js';

describe('builder + interpreter', () => {
  it('builds a typed graph, verifies it and runs it', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', tensorType('f32', ['batch', 3]));
    const c = b.constant('c', Tensor.from('f32', [3], [1, -2, 3]));
    const y = b.op('onnx.Relu', [b.op('onnx.Add', [x, c])]);
    b.output(y);
    verify(b.graph);
    expect(formatType(y.type)).toBe('f32[batch,3]');
    const [out] = run(b.graph, [Tensor.from('f32', [2, 3], [0, 0, 0, -5, 5, -5])]);
    expect(out!.toNumbers()).toEqual([1, 0, 3, 0, 3, 0]);
  });

  it('rejects inputs of the wrong shape with a diagnostic naming the input', () => {
    const b = new Builder(new Graph('g'));
    const x = b.input('x', tensorType('f32', ['batch', 3]));
    b.output(b.op('onnx.Relu', [x]));
    expect(() => run(b.graph, [Tensor.zeros('f32', [2, 4])])).toThrow(/input 'x' expects f32\[batch,3\], got shape \[2,4\]/);
  });
});
