/**
 * @fileoverview Shape specialization before lowering. Kernels are compiled for static shapes:
 * symbolic dims are bound (`batch` by --batch, others by --dim) and one reference run on zero
 * inputs records every value's concrete shape. Values that depend on shapes but not on input
 * data (Shape → Gather → Concat → Reshape chains, Expand of a constant) are computed by that
 * same run and become compile-time constants.
 */
import { fail } from '../../ir/diagnostics.js';
import type { Graph, Node, Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { storageDType } from '../../ir/types.js';
import { run } from '../../interp/interpreter.js';

/** How symbolic dims are bound. */
export interface ShapeBinding {
  /** Size of a symbolic leading (batch) dim of the inputs. */
  readonly batch: number;
  /** Sizes of other symbolic dims by name. */
  readonly dims: Readonly<Record<string, number>>;
}

export interface Specialized {
  readonly shapes: ReadonlyMap<Value, readonly number[]>;
  /** Constants and values computed at compile time. */
  readonly statics: ReadonlyMap<Value, Tensor>;
  /** Symbol → size, for every symbol the inputs use. */
  readonly bound: Readonly<Record<string, number>>;
}

/** Ops whose output depends on the input's shape only. */
const SHAPE_ONLY = new Set(['onnx.Shape', 'onnx.Size']);

/** Concrete input shapes of `graph` under `bind`; an unbound symbol is a usage error naming it. */
export function bindInputs(graph: Graph, bind: ShapeBinding): { shapes: number[][]; bound: Record<string, number> } {
  const bound: Record<string, number> = { ...bind.dims };
  const shapes = graph.inputs.map((v) => {
    if (!v.type.shape) fail('unsupported', `input '${v.name}' has unknown rank: compile needs static shapes`);
    return v.type.shape.map((d, i) => {
      if (typeof d === 'number') return d;
      if (d === '?') fail('unsupported', `input '${v.name}' has an unknown dim ${i}: give the model a named or static dim`);
      if (bound[d] === undefined && i === 0) bound[d] = bind.batch;
      if (bound[d] === undefined) fail('usage', `input '${v.name}' has symbolic dim '${d}': bind it with --dim ${d}=<n>`);
      return bound[d]!;
    });
  });
  return { shapes, bound };
}

/** Bind symbolic dims and trace `graph` once to learn every shape and every compile-time value. */
export function specialize(graph: Graph, bind: ShapeBinding): Specialized {
  const { shapes: inShapes, bound } = bindInputs(graph, bind);
  const shapes = new Map<Value, readonly number[]>();
  const statics = new Map<Value, Tensor>();
  for (const c of graph.constants) {
    const t = graph.constValue(c);
    if (t) { statics.set(c, t); shapes.set(c, t.shape); }
  }
  const inputs = graph.inputs.map((v, i) => {
    shapes.set(v, inShapes[i]!);
    return Tensor.zeros(storageDType(v.type.dtype), inShapes[i]!);
  });
  const isStatic = (n: Node) => SHAPE_ONLY.has(n.op) || n.inputs.every((x) => !x || statics.has(x));
  run(graph, inputs, {
    trusted: true,
    onNode: (node, outs) => {
      const fold = isStatic(node) && !node.op.startsWith('onnx.Random');
      node.outputs.forEach((v, j) => {
        const t = outs[j];
        if (!t) return;
        shapes.set(v, t.shape);
        if (fold) statics.set(v, t);
      });
    },
  });
  return { shapes, statics, bound };
}
