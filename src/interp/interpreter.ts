/**
 * @fileoverview The reference interpreter: executes a graph node by node with the registered
 * kernels. Its results are the semantics every backend is tested against. Intermediate tensors
 * are released after their last use so peak memory follows the live set, not the graph size.
 */
import { LutraError, isLutraError } from '../ir/diagnostics.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { formatType, storageDType } from '../ir/types.js';
import { getKernel, type KernelCtx } from './kernel.js';
import './kernels/index.js';

export interface RunOptions {
  /** Called after each node with its outputs (calibration observers hook here). */
  onNode?: (node: Node, outputs: readonly Tensor[]) => void;
  /** Skip input validation (internal callers that already validated). */
  trusted?: boolean;
}

/** Run `graph` on inputs given in graph-input order or by input name. */
export function run(graph: Graph, inputs: readonly Tensor[] | Record<string, Tensor>, opts: RunOptions = {}): Tensor[] {
  const list = Array.isArray(inputs)
    ? (inputs as readonly Tensor[])
    : graph.inputs.map((v) => {
      const t = (inputs as Record<string, Tensor>)[v.name];
      if (!t) throw new LutraError('input', `no value given for graph input '${v.name}'`);
      return t;
    });
  if (!opts.trusted) checkInputs(graph, list);
  const env = new Map<Value, Tensor>();
  graph.inputs.forEach((v, i) => env.set(v, list[i]!));
  return runIn(graph, env, opts);
}

function lookup(env: Map<Value, Tensor>, g: Graph, v: Value): Tensor {
  const t = env.get(v);
  if (t) return t;
  for (let s: Graph | undefined = g; s; s = s.parent) {
    const c = s.constValue(v);
    if (c) return c;
  }
  if (v.weight !== undefined) throw new LutraError('model', `constant '${v.name}' has no data (weight @${v.weight} is missing)`);
  throw new LutraError('model', `value '${v.name}' is used before it is defined`);
}

function runIn(graph: Graph, env: Map<Value, Tensor>, opts: RunOptions): Tensor[] {
  const lastUse = new Map<Value, number>();
  graph.nodes.forEach((n, i) => {
    for (const v of n.inputs) if (v && !v.isConst) lastUse.set(v, i);
    // values captured by subgraphs stay alive while the node runs
    for (const a of Object.values(n.attrs)) if (a && typeof a === 'object' && 'nodes' in a) for (const v of freeValues(a as Graph)) lastUse.set(v, i);
  });
  const keep = new Set(graph.outputs);
  graph.nodes.forEach((node, i) => {
    const kernel = getKernel(node.op);
    if (!kernel) throw new LutraError('unsupported', `the reference interpreter has no kernel for ${node.op}`, node.describe());
    const ins = node.inputs.map((v) => (v ? lookup(env, graph, v) : undefined));
    const ctx: KernelCtx = {
      runSubgraph: (g) => {
        const inner = new Map(env);
        return runIn(g, inner, opts).map((t) => t);
      },
      weight: (key) => graph.requireWeight(key),
    };
    let outs: Tensor[];
    try {
      outs = kernel(ins, node, ctx);
    } catch (e) {
      if (isLutraError(e)) throw e;
      throw new LutraError('runtime', (e as Error).message, node.describe());
    }
    node.outputs.forEach((v, j) => {
      const t = outs[j];
      if (t) env.set(v, t);
    });
    opts.onNode?.(node, outs);
    for (const v of node.inputs) if (v && lastUse.get(v) === i && !keep.has(v) && env.has(v) && !graph.inputs.includes(v)) env.delete(v);
  });
  return graph.outputs.map((v) => lookup(env, graph, v));
}

/** Values a subgraph uses but does not define (captured from enclosing graphs). */
export function freeValues(g: Graph): Set<Value> {
  const defined = new Set<Value>([...g.inputs, ...g.constants]);
  const free = new Set<Value>();
  for (const n of g.nodes) {
    for (const v of n.inputs) if (v && !defined.has(v) && !v.isConst) free.add(v);
    for (const a of Object.values(n.attrs)) if (a && typeof a === 'object' && 'nodes' in a) for (const v of freeValues(a as Graph)) if (!defined.has(v)) free.add(v);
    for (const o of n.outputs) defined.add(o);
  }
  for (const v of g.outputs) if (!defined.has(v) && !v.isConst) free.add(v);
  return free;
}

/** Validate count, dtype and shape of run inputs against the graph signature. */
export function checkInputs(graph: Graph, inputs: readonly Tensor[]): void {
  if (inputs.length !== graph.inputs.length) {
    throw new LutraError('input', `model takes ${graph.inputs.length} input(s) (${graph.inputs.map((v) => v.name).join(', ')}), got ${inputs.length}`);
  }
  const symbols = new Map<string, number>();
  graph.inputs.forEach((v, i) => {
    const t = inputs[i]!;
    const want = storageDType(v.type.dtype);
    if (t.dtype !== want) {
      throw new LutraError('input', `input '${v.name}' expects ${formatType(v.type)}, got dtype ${t.dtype}`);
    }
    const shape = v.type.shape;
    if (!shape) return;
    const bad = () => new LutraError('input', `input '${v.name}' expects ${formatType(v.type)}, got shape [${t.shape.join(',')}]`);
    if (shape.length !== t.shape.length) throw bad();
    shape.forEach((d, k) => {
      const got = t.shape[k]!;
      if (typeof d === 'number') { if (d !== got) throw bad(); return; }
      if (d === '?') return;
      const prev = symbols.get(d);
      if (prev !== undefined && prev !== got) throw bad();
      symbols.set(d, got);
    });
  });
}

export { Tensor };
