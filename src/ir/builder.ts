/**
 * @fileoverview Builder: create graphs and nodes with types inferred by the op registry.
 *
 *   const b = new Builder(new Graph('main'));
 *   const x = b.input('x', tensorType('f32', ['batch', 4]));
 *   const y = b.op('onnx.Relu', [x]);
 *   b.output(y);
 */
import { Graph, Node, Value, type Attrs } from './graph.js';
import { inferTypes } from './registry.js';
import type { Tensor } from './tensor.js';
import type { TensorType } from './types.js';

/** Statically known value of `v`: a constant in `g` or an enclosing graph. */
export function constantOf(g: Graph, v: Value): Tensor | undefined {
  for (let s: Graph | undefined = g; s; s = s.parent) {
    const t = s.constValue(v);
    if (t) return t;
  }
  return undefined;
}

/** Naming and declared result types of a new node. */
export interface BuildOpts {
  /** Node name. */
  name?: string;
  /** Base name of the result values (default: the node name, else the op). */
  out?: string;
  /**
   * Declared result types, for ops whose result type is not a function of the operands
   * (q.quantize: the quantized type carries the scale); inference then checks them.
   */
  types?: readonly TensorType[];
}

export class Builder {
  /** Insert new nodes before this node (append at the end when undefined). */
  insertionPoint: Node | undefined;

  constructor(readonly graph: Graph) {}

  input(name: string, type: TensorType): Value {
    const v = new Value(name, type);
    this.graph.inputs.push(v);
    return v;
  }

  constant(name: string, t: Tensor): Value {
    return this.graph.addConstant(this.graph.freshName(name), t);
  }

  output(...vs: Value[]): void {
    this.graph.outputs.push(...vs);
  }

  /** Create a single-output node; the output type is inferred. */
  op(op: string, inputs: (Value | null)[], attrs: Attrs = {}, opts: BuildOpts = {}): Value {
    return this.node(op, inputs, attrs, 1, opts).outputs[0]!;
  }

  /** Create a node with `numOutputs` outputs, inferring their types. */
  node(op: string, inputs: (Value | null)[], attrs: Attrs = {}, numOutputs = 1, opts: BuildOpts = {}): Node {
    const base = opts.out ?? opts.name ?? op.split('.').pop()!.toLowerCase();
    const outs: Value[] = [];
    for (let i = 0; i < numOutputs; i++) {
      outs.push(new Value(this.graph.freshName(numOutputs === 1 ? base : `${base}_${i}`), opts.types?.[i] ?? { dtype: 'f32', shape: undefined }));
    }
    const node = new Node(op, inputs, [], attrs, opts.name ?? '');
    node.outputs = outs;
    for (const o of outs) o.producer = node;
    const types = inferTypes(node, (v) => constantOf(this.graph, v));
    outs.forEach((o, i) => { o.type = types[i] ?? { dtype: 'f32', shape: undefined }; });
    this.graph.add(node, this.insertionPoint);
    return node;
  }
}
