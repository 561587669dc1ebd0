/**
 * @fileoverview The graph IR: SSA values, nodes in topological order, and a weight store.
 *
 * A Value is defined exactly once: as a graph input, as a node output, or as a constant backed
 * by a weight-store entry (`value.weight`). Subgraphs (If branches) are Graphs whose nodes may
 * use values of enclosing graphs directly, like MLIR regions.
 */
import { LutraError } from './diagnostics.js';
import type { Tensor } from './tensor.js';
import type { TensorType } from './types.js';

export type AttrValue = number | string | number[] | string[] | Tensor | Graph;
export type Attrs = Record<string, AttrValue>;

export class Value {
  /** Node that defines this value; undefined for graph inputs and constants. */
  producer: Node | undefined = undefined;
  /** Weight-store key when this value is a constant. */
  weight: string | undefined = undefined;

  constructor(public name: string, public type: TensorType) {}

  get isConst(): boolean {
    return this.weight !== undefined;
  }
}

export class Node {
  constructor(
    /** Dialect-prefixed op name: `onnx.Conv`, `fused.Gelu`, `q.Quantize`. */
    public op: string,
    /** Operands; null is an omitted optional input. */
    public inputs: (Value | null)[],
    public outputs: Value[],
    public attrs: Attrs = {},
    /** Node name from the source model (used by recipes and error messages); may be empty. */
    public name = '',
  ) {
    for (const o of outputs) o.producer = this;
  }

  /** `onnx.Conv "conv1"` — how diagnostics name a node. */
  describe(): string {
    return this.name ? `${this.op} "${this.name}"` : `${this.op} (output ${this.outputs[0]?.name ?? '?'})`;
  }
}

/** Weight store: constant tensors by key. The IR refers to entries by name only. */
export class WeightStore {
  private readonly map = new Map<string, Tensor>();

  get(key: string): Tensor | undefined {
    return this.map.get(key);
  }
  set(key: string, t: Tensor): void {
    this.map.set(key, t);
  }
  has(key: string): boolean {
    return this.map.has(key);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
  keys(): IterableIterator<string> {
    return this.map.keys();
  }
  get size(): number {
    return this.map.size;
  }
}

export class Graph {
  inputs: Value[] = [];
  outputs: Value[] = [];
  /** Constants used by this graph, in declaration order. */
  constants: Value[] = [];
  /** Nodes in topological order. */
  nodes: Node[] = [];
  /** The enclosing graph of a subgraph. */
  parent: Graph | undefined = undefined;

  constructor(public name: string, public weights: WeightStore = new WeightStore()) {}

  /** Add a node at the end (or before `before`). */
  add(node: Node, before?: Node): Node {
    if (before) {
      const i = this.nodes.indexOf(before);
      if (i < 0) throw new Error(`insertion point ${before.describe()} not in graph`);
      this.nodes.splice(i, 0, node);
    } else {
      this.nodes.push(node);
    }
    return node;
  }

  remove(node: Node): void {
    const i = this.nodes.indexOf(node);
    if (i >= 0) this.nodes.splice(i, 1);
  }

  /** Declare a constant backed by weight-store entry `key` (stored under the value's name by default). */
  addConstant(name: string, tensor: Tensor, key = name): Value {
    const v = new Value(name, { dtype: tensor.dtype, shape: tensor.shape });
    v.weight = key;
    this.weights.set(key, tensor);
    this.constants.push(v);
    return v;
  }

  /** A weight-store entry that must exist (quantization parameters named by a q<…> type). */
  requireWeight(key: string): Tensor {
    const t = this.weights.get(key);
    if (!t) throw new LutraError('model', `weight @${key} is missing from the weight store`, `graph @${this.name}`);
    return t;
  }

  /** The tensor of a constant value. */
  constValue(v: Value): Tensor | undefined {
    return v.weight === undefined ? undefined : this.weights.get(v.weight);
  }

  /** Map from value to the nodes using it (in this graph and nested subgraphs). */
  useMap(): Map<Value, Node[]> {
    const m = new Map<Value, Node[]>();
    const visit = (g: Graph): void => {
      for (const n of g.nodes) {
        for (const v of n.inputs) {
          if (!v) continue;
          const l = m.get(v);
          if (l) { if (l[l.length - 1] !== n) l.push(n); } else m.set(v, [n]);
        }
        for (const a of Object.values(n.attrs)) if (a instanceof Graph) visit(a);
      }
    };
    visit(this);
    return m;
  }

  /** Replace every use of `from` by `to` (node operands, graph outputs, nested subgraphs). */
  replaceAllUses(from: Value, to: Value): void {
    const visit = (g: Graph): void => {
      for (const n of g.nodes) {
        for (let i = 0; i < n.inputs.length; i++) if (n.inputs[i] === from) n.inputs[i] = to;
        for (const a of Object.values(n.attrs)) if (a instanceof Graph) visit(a);
      }
      for (let i = 0; i < g.outputs.length; i++) if (g.outputs[i] === from) g.outputs[i] = to;
    };
    visit(this);
  }

  /** A value name not yet used in this graph (for values created by passes). */
  freshName(base: string): string {
    const used = this.namesInUse();
    if (!used.has(base)) return base;
    for (let i = 1; ; i++) {
      const n = `${base}_${i}`;
      if (!used.has(n)) return n;
    }
  }

  private namesInUse(): Set<string> {
    const s = new Set<string>();
    let g: Graph | undefined = this;
    while (g) {
      for (const v of g.inputs) s.add(v.name);
      for (const v of g.constants) s.add(v.name);
      for (const n of g.nodes) for (const o of n.outputs) s.add(o.name);
      g = g.parent;
    }
    return s;
  }
}

/** A model: the main graph plus what the ONNX file said about itself. */
export class Model {
  /** Opset versions by domain ('' = ai.onnx). */
  opsets: Record<string, number> = { '': 17 };
  irVersion = 8;
  producer = 'lutra';
  docString = '';
  metadata: Record<string, string> = {};

  constructor(public graph: Graph) {}

  get weights(): WeightStore {
    return this.graph.weights;
  }
}
