/** @fileoverview Control-flow kernels: If runs the taken branch in the current environment. */
import type { Graph } from '../../ir/graph.js';
import { registerKernel } from '../kernel.js';

registerKernel('onnx.If', ([cond], node, ctx) => {
  if (!cond || cond.size !== 1) throw new Error('If condition must be a single element');
  const branch = node.attrs[cond.get(0) ? 'then_branch' : 'else_branch'] as Graph;
  return ctx.runSubgraph(branch).slice(0, node.outputs.length);
});
