/**
 * @fileoverview Control flow: If. Its branches are subgraphs (graph attributes) that may use
 * values of the enclosing graph; their outputs are the node's.
 */
import type { Graph } from '../graph.js';
import { registerOp, type InferCtx } from '../registry.js';
import { sameElemType, type Dim, type TensorType } from '../types.js';

/** One type covering both branch outputs: equal dims stay, differing ones become '?'. */
export function mergeTypes(a: TensorType, b: TensorType): TensorType {
  if (!a.shape || !b.shape || a.shape.length !== b.shape.length) return { dtype: a.dtype, shape: undefined };
  return { dtype: a.dtype, shape: a.shape.map((d, i): Dim => (d === b.shape![i] ? d : '?')) };
}

function inferIf(ctx: InferCtx): TensorType[] {
  const then = ctx.attr<Graph>('then_branch');
  const els = ctx.attr<Graph>('else_branch');
  const n = ctx.numOutputs;
  if (then.outputs.length < n || els.outputs.length < n) {
    ctx.fail(`branches have ${then.outputs.length} and ${els.outputs.length} outputs, the node ${n}`);
  }
  return Array.from({ length: n }, (_, i) => {
    const [a, b] = [then.outputs[i]!.type, els.outputs[i]!.type];
    if (!sameElemType(a.dtype, b.dtype)) ctx.fail(`output ${i} has element types that differ between branches`);
    return mergeTypes(a, b);
  });
}

registerOp({
  name: 'onnx.If', summary: 'run then_branch or else_branch by a boolean scalar; the outputs are the taken branch\'s',
  inputs: [1, 1], outputs: [1, Infinity], since: 16,
  attrs: { then_branch: { kind: 'graph' }, else_branch: { kind: 'graph' } },
  infer: inferIf,
});
