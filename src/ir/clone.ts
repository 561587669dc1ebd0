/**
 * @fileoverview Structural copies of graphs and models: new values and nodes, shared tensors.
 * Export works on a copy so it never changes the model; mixed precision quantizes fresh copies
 * of a model its recipe's passes already ran on.
 */
import { type AttrValue, Graph, Model, Node, Value, WeightStore } from './graph.js';

/** A new weight store with the same entries (the tensors are shared: nothing mutates them in place). */
export function copyWeights(w: WeightStore): WeightStore {
  const out = new WeightStore();
  for (const k of w.keys()) out.set(k, w.get(k)!);
  return out;
}

/** A structural copy of `g` and its subgraphs on `weights`; `map` takes every original value to its copy. */
export function cloneGraph(g: Graph, weights: WeightStore, parent?: Graph, map = new Map<Value, Value>()): Graph {
  const out = new Graph(g.name, weights);
  out.parent = parent;
  const copy = (v: Value): Value => {
    let c = map.get(v);
    if (!c) {
      c = new Value(v.name, v.type);
      c.weight = v.weight;
      map.set(v, c);
    }
    return c;
  };
  out.inputs = g.inputs.map(copy);
  out.constants = g.constants.map(copy);
  for (const n of g.nodes) {
    const attrs: Record<string, AttrValue> = {};
    for (const [k, a] of Object.entries(n.attrs)) attrs[k] = a instanceof Graph ? cloneGraph(a, weights, out, map) : a;
    out.nodes.push(new Node(n.op, n.inputs.map((v) => (v ? copy(v) : null)), n.outputs.map(copy), attrs, n.name));
  }
  out.outputs = g.outputs.map(copy);
  return out;
}

/** A copy of `m` that can be rewritten without touching `m` (graph, weight store and metadata copied). */
export function cloneModel(m: Model): Model {
  const out = new Model(cloneGraph(m.graph, copyWeights(m.weights)));
  out.opsets = { ...m.opsets };
  out.irVersion = m.irVersion;
  out.producer = m.producer;
  out.docString = m.docString;
  out.metadata = { ...m.metadata };
  return out;
}
