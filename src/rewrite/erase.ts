/**
 * @fileoverview Removing dead IR: nodes whose results nobody uses, constants nobody uses, and
 * weight-store entries no constant (or quantized type) refers to. Shared by the rewrite driver
 * (which cleans up after each rewrite) and the `dce` pass.
 */
import { Graph, type Node, type Value } from '../ir/graph.js';
import { isQuant, type TensorType } from '../ir/types.js';

/** The outermost graph enclosing `g`. */
export function rootGraph(g: Graph): Graph {
  let r = g;
  while (r.parent) r = r.parent;
  return r;
}

/** Every graph nested in `g` (through node attributes), `g` first. */
export function graphTree(g: Graph): Graph[] {
  const out: Graph[] = [g];
  for (let i = 0; i < out.length; i++) {
    for (const n of out[i]!.nodes) for (const a of Object.values(n.attrs)) if (a instanceof Graph) out.push(a);
  }
  return out;
}

function quantKeys(t: TensorType, into: Set<string>): void {
  if (!isQuant(t.dtype)) return;
  if (typeof t.dtype.scale === 'string') into.add(t.dtype.scale);
  if (typeof t.dtype.zero === 'string') into.add(t.dtype.zero);
}

/** Weight keys referred to anywhere in the graph tree of `root`: by constants and by quantized types. */
export function weightRefs(root: Graph): Set<string> {
  const keys = new Set<string>();
  for (const g of graphTree(root)) {
    for (const v of g.constants) { if (v.weight !== undefined) keys.add(v.weight); quantKeys(v.type, keys); }
    for (const v of g.inputs) quantKeys(v.type, keys);
    for (const n of g.nodes) for (const o of n.outputs) quantKeys(o.type, keys);
  }
  return keys;
}

/** Delete the weight-store entries among `keys` (all when omitted) that nothing in the model refers to; returns how many. */
export function dropUnreferencedWeights(g: Graph, keys?: Iterable<string>): number {
  const root = rootGraph(g);
  const refs = weightRefs(root);
  let n = 0;
  for (const k of [...(keys ?? root.weights.keys())]) {
    if (!refs.has(k) && root.weights.has(k)) { root.weights.delete(k); n++; }
  }
  return n;
}

/**
 * Remove the nodes among `seeds` (and then their operands' producers, transitively) whose
 * results are unused, and the constants of `g` that become unused; drop their weights when
 * nothing else refers to them. Returns the number of nodes and constants removed.
 */
export function eraseDead(g: Graph, seeds: Iterable<Node | Value>): number {
  const uses = g.useMap();
  const outs = new Set(g.outputs);
  const live = new Set(g.nodes);
  const used = (v: Value): boolean => outs.has(v) || (uses.get(v)?.length ?? 0) > 0;
  const nodes: Node[] = [];
  const consts = new Set<Value>();
  for (const s of seeds) if ('op' in s) nodes.push(s); else consts.add(s);
  const removed = new Set<Node>();
  while (nodes.length > 0) {
    const n = nodes.pop()!;
    if (!live.has(n) || removed.has(n) || n.outputs.some(used)) continue;
    removed.add(n);
    for (const v of n.inputs) {
      if (!v) continue;
      const l = uses.get(v);
      if (l) uses.set(v, l.filter((u) => u !== n));
      if (v.producer) nodes.push(v.producer); else if (v.isConst) consts.add(v);
    }
  }
  if (removed.size > 0) g.nodes = g.nodes.filter((n) => !removed.has(n));
  const deadConsts = [...consts].filter((c) => !used(c) && g.constants.includes(c));
  if (deadConsts.length > 0) {
    const dead = new Set(deadConsts);
    g.constants = g.constants.filter((c) => !dead.has(c));
    dropUnreferencedWeights(g, deadConsts.map((c) => c.weight!));
  }
  return removed.size + deadConsts.length;
}
