/**
 * Golden fixtures for generated code: small fused kernels as scheduled kernel IR (.kir) and as
 * the optimized WASM module in binaryen's text form (.wat). Regenerate and review the diff with
 * LUTRA_UPDATE_FIXTURES=1 npx vitest run tests/golden
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../src/codegen/index.js';
import { printKernel } from '../../src/codegen/kernel-ir.js';
import { Builder, Graph, Model, Tensor, tensorType, type Value } from '../../src/ir/index.js';

const HERE = join(dirname(fileURLToPath(import.meta.url)), 'wasm');
const UPDATE = process.env.LUTRA_UPDATE_FIXTURES === '1';
const ramp = (shape: number[]) => Tensor.from('f32', shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7) % 11) / 10 - 0.5));

const CASES: Record<string, (b: Builder) => Value> = {
  /** Gemm with its bias and Relu as the epilogue: one kernel, a 4 × 8 register tile. */
  'gemm-bias-relu': (b) => b.op('onnx.Relu', [b.op('onnx.Gemm', [b.input('x', tensorType('f32', [4, 6])), b.constant('w', ramp([6, 8])), b.constant('c', ramp([8]))])]),
  /** Exact GELU after a MatMul + bias: MatMul, Add, Div, Erf, Add, Mul, Mul in one kernel. */
  'matmul-gelu': (b) => {
    const y = b.op('onnx.Add', [b.op('onnx.MatMul', [b.input('x', tensorType('f32', [1, 5])), b.constant('w', ramp([5, 6]))]), b.constant('c', ramp([6]))]);
    const e = b.op('onnx.Erf', [b.op('onnx.Div', [y, b.constant('s', Tensor.from('f32', [], [Math.SQRT2]))])]);
    return b.op('onnx.Mul', [b.op('onnx.Mul', [y, b.op('onnx.Add', [e, b.constant('one', Tensor.from('f32', [], [1]))])]), b.constant('h', Tensor.from('f32', [], [0.5]))]);
  },
  /** Softmax over a row of 7: max, sum of exp, vectorized normalize with a scalar tail. */
  softmax: (b) => b.op('onnx.Softmax', [b.input('x', tensorType('f32', [2, 7]))], { axis: -1 }),
};

function fixture(name: string, actual: string): void {
  const path = join(HERE, name);
  if (UPDATE || !existsSync(path)) writeFileSync(path, actual);
  expect(actual, `${name} changed; regenerate with LUTRA_UPDATE_FIXTURES=1 and review the diff`).toBe(readFileSync(path, 'utf8'));
}

describe('codegen golden fixtures', () => {
  it.each(Object.keys(CASES))('%s', (name) => {
    const b = new Builder(new Graph(name));
    b.output(CASES[name]!(b));
    const { program, wasm } = compileWasm(new Model(b.graph), { batch: 1, dims: {} });
    fixture(`${name}.kir`, program.dispatches.map((d) => printKernel(d.kernel)).join('\n'));
    fixture(`${name}.wat`, wasm.text);
  });
});
