import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, formatType, tensorType, type Node } from '../../../src/ir/index.js';
import { importOnnx } from '../../../src/frontends/onnx/import.js';
import { run } from '../../../src/interp/interpreter.js';
import { runOnnxSuite } from '../../../src/testing/onnx-suite.js';
import { ONNX_TESTS } from '../../helpers/shared.js';
import { modelBytes, node, vi } from '../frontends/onnx/protos.js';
import { evalOp, f32, i64, inferOp, iota, k, t } from './op-harness.js';

const T = tensorType;

describe('reduction kernels', () => {
  const x = f32([2, 3], [1, -2, 3, 4, 5, -6]);

  it('reduce the given axes (keepdims) or every axis', () => {
    const cases: [string, number[], number[]][] = [
      ['ReduceSum', [1], [2, 3]],
      ['ReduceMean', [0], [2.5, 1.5, -1.5]],
      ['ReduceMax', [1], [3, 5]],
      ['ReduceMin', [0], [1, -2, -6]],
      ['ReduceProd', [1], [-6, -120]],
      ['ReduceL1', [1], [6, 15]],
      ['ReduceL2', [1], [Math.sqrt(14), Math.sqrt(77)]],
      ['ReduceSumSquare', [1], [14, 77]],
      ['ReduceLogSum', [0], [Math.log(5), Math.log(3), Math.log(-3)]],
      ['ReduceLogSumExp', [1], [Math.log(Math.exp(1) + Math.exp(-2) + Math.exp(3)), Math.log(Math.exp(4) + Math.exp(5) + Math.exp(-6))]],
    ];
    for (const [op, axes, want] of cases) {
      const y = evalOp(op, [x, k(i64(axes))]);
      expect(y.shape, op).toEqual(axes[0] === 1 ? [2, 1] : [1, 3]);
      expect(y.toNumbers(), op).toEqual(want.map(Math.fround));
    }
    expect(evalOp('ReduceSum', [x], { keepdims: 0 }).toNumbers()).toEqual([5]);
    expect(evalOp('ReduceSum', [x], { keepdims: 0 }).shape).toEqual([]);
  });

  it('reduces non-adjacent axes and keeps i64 exact', () => {
    const y = evalOp('ReduceSum', [iota([2, 3, 2]), k(i64([0, 2]))], { keepdims: 0 });
    expect(y.toNumbers()).toEqual([0 + 1 + 6 + 7, 2 + 3 + 8 + 9, 4 + 5 + 10 + 11]);
    const big = evalOp('ReduceSum', [t('i64', [2], [2n ** 62n, 2n ** 62n - 1n])]);
    expect(Array.from(big.data as BigInt64Array)).toEqual([2n ** 63n - 1n]);
    expect(evalOp('ReduceMax', [t('i32', [3], [-5, 7, 2])]).toNumbers()).toEqual([7]);
    expect(evalOp('ReduceMean', [t('i32', [2], [1, 2])]).toNumbers()).toEqual([1]);
  });

  it('empty axes with noop_with_empty_axes is the identity; empty sets give the identity element', () => {
    expect(evalOp('ReduceSum', [x, k(i64([]))], { noop_with_empty_axes: 1 }).toNumbers()).toEqual(x.toNumbers());
    const empty = Tensor.zeros('f32', [2, 0]);
    expect(evalOp('ReduceSum', [empty, k(i64([1]))]).toNumbers()).toEqual([0, 0]);
    expect(evalOp('ReduceProd', [empty, k(i64([1]))]).toNumbers()).toEqual([1, 1]);
    expect(evalOp('ReduceMax', [empty, k(i64([1]))]).toNumbers()).toEqual([-Infinity, -Infinity]);
    expect(evalOp('ReduceMin', [empty, k(i64([1]))]).toNumbers()).toEqual([Infinity, Infinity]);
    expect(evalOp('ReduceLogSumExp', [empty, k(i64([1]))]).toNumbers()).toEqual([-Infinity, -Infinity]);
  });

  it('rounds once to f16', () => {
    const h = Tensor.from('f16', [3], [1, 2 ** -11, 2 ** -11]);
    expect(evalOp('ReduceSum', [h]).toNumbers()).toEqual([1 + 2 ** -10]);
  });
});

describe('reduction type inference', () => {
  it('uses constant axes, keeps symbolic dims, and falls back to ? dims', () => {
    expect(inferOp('ReduceMean', [T('f32', ['b', 'seq', 64]), i64([-1])])).toEqual(['f32[b,seq,1]']);
    expect(inferOp('ReduceSum', [T('f32', ['b', 3, 4]), i64([1, 2])], { keepdims: 0 })).toEqual(['f32[b]']);
    expect(inferOp('ReduceMax', [T('f16', ['b', 3])])).toEqual(['f16[1,1]']);
    expect(inferOp('ReduceMax', [T('f32', ['b', 3]), T('i64', [1])])).toEqual(['f32[?,?]']);
    expect(inferOp('ReduceMax', [T('f32', ['b', 3]), T('i64', [1])], { keepdims: 0 })).toEqual(['f32[*]']);
    expect(inferOp('ReduceL2', [T('f32', ['b', 3]), i64([])], { noop_with_empty_axes: 1 })).toEqual(['f32[b,3]']);
    expect(() => inferOp('ReduceSum', [T('f32', [2, 3]), i64([2])])).toThrow(/axis 2 is out of range/);
  });
});

describe('opset upgrades', () => {
  it('the axes attribute becomes a constant input before opset 18 (ReduceSum: 13)', () => {
    const model = (op: string, opset: number) => importOnnx(modelBytes({
      input: [vi('x', [2, 3])], output: [vi('y', [2, 1])],
      node: [node(op, ['x'], ['y'], { attribute: [{ name: 'axes', ints: [1], type: 7 }] })],
    }, opset)).graph;
    for (const [op, opset] of [['ReduceMean', 17], ['ReduceSum', 12], ['ReduceLogSumExp', 13]] as const) {
      const g = model(op, opset);
      const n = g.nodes[0] as Node;
      expect(n.attrs, op).toEqual({});
      expect(n.inputs.map((v) => v && formatType(v.type)), op).toEqual(['f32[2,3]', 'i64[1]']);
      expect(formatType(g.outputs[0]!.type)).toBe('f32[2,1]');
    }
    expect(run(model('ReduceMean', 13), [f32([2, 3], [1, 2, 3, 4, 5, 6])])[0]!.toNumbers()).toEqual([2, 5]);
  });
});

describe('ONNX node conformance tests', () => {
  const dir = join(ONNX_TESTS, 'node');
  it.skipIf(!existsSync(dir))('every reduction test passes', () => {
    const report = runOnnxSuite(dir, { filter: /^test_reduce_/ });
    expect(report.results.filter((r) => r.status === 'failed')).toEqual([]);
    expect(report.passed).toBeGreaterThan(120);
  });
});
