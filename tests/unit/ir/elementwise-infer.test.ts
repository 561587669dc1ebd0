import { describe, expect, it } from 'vitest';
import {
  Builder, Graph, LutraError, Tensor, formatType, tensorType, type Attrs, type DType, type Node, type TensorType,
} from '../../../src/ir/index.js';
import { importOnnx } from '../../../src/frontends/onnx/import.js';
import { run } from '../../../src/interp/interpreter.js';
import { modelBytes, node, vi } from '../frontends/onnx/protos.js';

/** Inferred result type of `op` over inputs of the given types. */
function inferOp(op: string, types: readonly TensorType[], attrs: Attrs = {}): string {
  const b = new Builder(new Graph('g'));
  const xs = types.map((t, i) => b.input(`x${i}`, t));
  return formatType(b.op(`onnx.${op}`, xs, attrs).type);
}

describe('element-wise type inference', () => {
  const sym = (dtype: DType, shape: (number | string)[]) => tensorType(dtype, shape);

  it('broadcasts symbolic and static dims numpy-style', () => {
    expect(inferOp('Add', [sym('f32', ['batch', 1, 4]), sym('f32', [3, 1])])).toBe('f32[batch,3,4]');
    expect(inferOp('Mul', [sym('f16', ['n', 'seq', 96]), sym('f16', [96])])).toBe('f16[n,seq,96]');
    expect(inferOp('Sum', [sym('f32', [1]), sym('f32', ['b', 1]), sym('f32', [5])])).toBe('f32[b,5]');
    expect(inferOp('Where', [sym('bool', ['b', 1]), sym('i64', [1, 5]), sym('i64', [])])).toBe('i64[b,5]');
    expect(inferOp('Relu', [tensorType('f32', undefined)])).toBe('f32[*]');
  });

  it('gives bool for comparisons and predicates, the base type for Pow, the target for Cast', () => {
    expect(inferOp('Less', [sym('i32', ['b', 3]), sym('i32', [3])])).toBe('bool[b,3]');
    expect(inferOp('IsInf', [sym('f16', [2])])).toBe('bool[2]');
    expect(inferOp('Pow', [sym('i32', [3]), sym('f32', [3])])).toBe('i32[3]');
    expect(inferOp('Cast', [sym('f32', ['b'])], { to: 10 })).toBe('f16[b]');
    expect(inferOp('CastLike', [sym('f32', ['b']), sym('bf16', [])])).toBe('bf16[b]');
    expect(inferOp('Clip', [sym('i8', ['b', 2]), sym('i8', [])])).toBe('i8[b,2]');
  });

  it('rejects dtypes, shapes and attributes the op does not allow', () => {
    expect(() => inferOp('Sqrt', [sym('i32', [2])])).toThrow(/input 0 has dtype i32; onnx.Sqrt takes f64\|f32\|f16\|bf16/);
    expect(() => inferOp('Add', [sym('f32', [2]), sym('i32', [2])])).toThrow(/share one element type/);
    expect(() => inferOp('Add', [sym('f32', [2, 3]), sym('f32', [4])])).toThrow(/\[2,3\], \[4\] do not broadcast/);
    expect(() => inferOp('Mod', [sym('f32', [2]), sym('f32', [2])])).toThrow(/fmod must be 1/);
    expect(() => inferOp('BitShift', [sym('u8', [2]), sym('u8', [2])], { direction: 'UP' })).toThrow(/"LEFT" or "RIGHT"/);
    expect(() => inferOp('Where', [sym('i32', [2]), sym('f32', [2]), sym('f32', [2])])).toThrow(/input 0 has dtype i32/);
  });

  it('reports casts to types Lutra does not store as unsupported', () => {
    let err: unknown;
    try { inferOp('Cast', [sym('f32', [2])], { to: 8 }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(LutraError);
    expect((err as LutraError).code).toBe('unsupported');
    expect((err as LutraError).message).toMatch(/ONNX data type 8/);
  });
});

describe('opset upgrades', () => {
  it('Clip opset 10: min/max attributes become constant inputs of x\'s dtype', () => {
    const bytes = modelBytes({
      input: [vi('x', [4], 11)],
      output: [vi('y', [4], 11), vi('z', [4], 11)],
      node: [
        node('Clip', ['x'], ['y'], { attribute: [{ name: 'min', f: -1, type: 1 }, { name: 'max', f: 1, type: 1 }] }),
        node('Clip', ['x'], ['z'], { attribute: [{ name: 'max', f: 0.5, type: 1 }] }),
      ],
    }, 10);
    const g = importOnnx(bytes).graph;
    const [clip, maxOnly] = g.nodes as [Node, Node];
    expect(clip.attrs).toEqual({});
    expect(clip.inputs.map((v) => v && formatType(v.type))).toEqual(['f64[4]', 'f64[]', 'f64[]']);
    expect(maxOnly.inputs.map((v) => v && formatType(v.type))).toEqual(['f64[4]', null, 'f64[]']);
    const [y, z] = run(g, [Tensor.from('f64', [4], [-3, -0.25, 0.75, 3])]);
    expect(y!.toNumbers()).toEqual([-1, -0.25, 0.75, 1]);
    expect(z!.toNumbers()).toEqual([-3, -0.25, 0.5, 0.5]);
  });

  it('Clip opset 11 and later keeps its inputs', () => {
    const bytes = modelBytes({
      input: [vi('x', [2]), vi('lo', [])],
      output: [vi('y', [2])],
      node: [node('Clip', ['x', 'lo'], ['y'])],
    }, 13);
    const g = importOnnx(bytes).graph;
    expect(g.nodes[0]!.inputs.map((v) => v?.name)).toEqual(['x', 'lo']);
  });
});
