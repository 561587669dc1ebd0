/** @fileoverview One-node graphs for kernel and inference tests: build, verify, run. */
import { Builder, Graph, Tensor, formatType, tensorType, verify, type Attrs, type DType, type TensorType } from '../../../src/ir/index.js';
import { run } from '../../../src/interp/interpreter.js';

/** An operand: a runtime input, a constant (`k(t)`), or omitted (null). */
export type Operand = Tensor | { readonly konst: Tensor } | null;

/** Mark a tensor as a constant operand (what shape / axes inputs usually are). */
export const k = (t: Tensor): Operand => ({ konst: t });

/** Build a verified one-node graph of `op` over the operands. */
export function opGraph(op: string, operands: readonly Operand[], attrs: Attrs = {}, numOutputs = 1): { graph: Graph; inputs: Tensor[] } {
  const b = new Builder(new Graph('g'));
  const inputs: Tensor[] = [];
  const vs = operands.map((o, i) => {
    if (o === null) return null;
    if (o instanceof Tensor) { inputs.push(o); return b.input(`x${i}`, tensorType(o.dtype, o.shape)); }
    return b.constant(`c${i}`, o.konst);
  });
  b.output(...b.node(`onnx.${op}`, vs, attrs, numOutputs).outputs);
  verify(b.graph);
  return { graph: b.graph, inputs };
}

/** Run `op` and return all its outputs. */
export function evalAll(op: string, operands: readonly Operand[], attrs: Attrs = {}, numOutputs = 1): Tensor[] {
  const { graph, inputs } = opGraph(op, operands, attrs, numOutputs);
  return run(graph, inputs);
}

/** Run `op` and return its (first) output. */
export const evalOp = (op: string, operands: readonly Operand[], attrs: Attrs = {}): Tensor => evalAll(op, operands, attrs)[0]!;

/** Inferred output types of `op` over inputs of the given types (constants where given as tensors). */
export function inferOp(op: string, operands: readonly (TensorType | Tensor | null)[], attrs: Attrs = {}, numOutputs = 1): string[] {
  const b = new Builder(new Graph('g'));
  const vs = operands.map((o, i) => (o === null ? null : o instanceof Tensor ? b.constant(`c${i}`, o) : b.input(`x${i}`, o)));
  return b.node(`onnx.${op}`, vs, attrs, numOutputs).outputs.map((v) => formatType(v.type));
}

export const f32 = (shape: number[], v: number[]): Tensor => Tensor.from('f32', shape, v);
export const i64 = (v: (number | bigint)[], shape = [v.length]): Tensor => Tensor.from('i64', shape, v);
export const t = (dtype: DType, shape: number[], v: (number | bigint)[]): Tensor => Tensor.from(dtype, shape, v);
/** 0, 1, 2, ... in `shape`. */
export const iota = (shape: number[], dtype: DType = 'f32'): Tensor => Tensor.from(dtype, shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i));
