/**
 * @fileoverview Shape specialization before lowering. Kernels are compiled for static shapes:
 * symbolic dims are bound (`batch` by --batch, others by --dim) and one reference run on zero
 * inputs records every value's concrete shape. Values that depend on shapes but not on input
 * data (Shape → Gather → Concat → Reshape chains, Expand of a constant) are computed by that
 * same run and become compile-time constants. An `If` whose condition is such a value takes the
 * same branch on every input: the run records that branch and the shapes of the values in it.
 * An `If` on input data may take either branch: the branch the run skipped is traced on its own,
 * on the zero-input values it captures, so both branches' shapes are known.
 */
import { fail } from '../../ir/diagnostics.js';
import { Graph, type Node, type Value } from '../../ir/graph.js';
import { Tensor } from '../../ir/tensor.js';
import { storageDType } from '../../ir/types.js';
import { freeValues, run } from '../../interp/interpreter.js';

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
  /** The branch every run takes, for each If whose condition is a compile-time value. */
  readonly branches: ReadonlyMap<Node, Graph>;
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
  const branches = new Map<Node, Graph>();
  // tensors a branch the trace did not take reads from outside it (and If conditions)
  const captured = new Set<Value>();
  const addConstants = (g: Graph): void => {
    for (const c of g.constants) {
      const t = g.constValue(c);
      if (t) { statics.set(c, t); shapes.set(c, t.shape); }
    }
    for (const n of g.nodes) {
      if (n.op === 'onnx.If' && n.inputs[0]) captured.add(n.inputs[0]);
      for (const a of Object.values(n.attrs)) {
        if (!(a instanceof Graph)) continue;
        for (const v of freeValues(a)) captured.add(v);
        addConstants(a);
      }
    }
  };
  addConstants(graph);
  const kept = new Map<Value, Tensor>();
  const inputs = graph.inputs.map((v, i) => {
    shapes.set(v, inShapes[i]!);
    const t = Tensor.zeros(storageDType(v.type.dtype), inShapes[i]!);
    kept.set(v, t);
    return t;
  });
  const isStatic = (n: Node) => SHAPE_ONLY.has(n.op) || n.inputs.every((x) => !x || statics.has(x));
  const branchOf = (n: Node, cond: Tensor): Graph => n.attrs[cond.get(0) ? 'then_branch' : 'else_branch'] as Graph;
  const untaken: { node: Node; branch: Graph }[] = [];
  const onNode = (node: Node, outs: readonly Tensor[]): void => {
    let fold = isStatic(node) && !node.op.startsWith('onnx.Random');
    if (node.op === 'onnx.If') {
      // the taken branch has run when the If's outputs arrive: the If folds when the branch's outputs did
      const known = statics.get(node.inputs[0]!);
      if (known) branches.set(node, branchOf(node, known));
      else untaken.push({ node, branch: branchOf(node, kept.get(node.inputs[0]!)!) === node.attrs.then_branch ? node.attrs.else_branch as Graph : node.attrs.then_branch as Graph });
      fold = !!known && branches.get(node)!.outputs.every((o) => statics.has(o));
    }
    node.outputs.forEach((v, j) => {
      const t = outs[j];
      if (!t) return;
      shapes.set(v, t.shape);
      if (captured.has(v)) kept.set(v, t);
      if (fold) statics.set(v, t);
    });
  };
  run(graph, inputs, { trusted: true, onNode });
  // an If on input data runs either branch: trace the other one too, on the values it captures
  for (let k = 0; k < untaken.length; k++) {
    const { node, branch } = untaken[k]!;
    const g = new Graph(branch.name, branch.weights);
    g.parent = branch.parent;
    g.inputs = [...freeValues(branch)];
    g.nodes = branch.nodes;
    g.outputs = branch.outputs;
    try {
      run(g, g.inputs.map((v) => kept.get(v) ?? statics.get(v)!), { trusted: true, onNode });
    } catch (e) {
      fail('unsupported', `the wasm backend cannot lower ${node.op}: the branch not taken on zero inputs fails for these shapes (${(e as Error).message.split('\n')[0]})`, node.describe());
    }
  }
  return { shapes, statics, bound, branches };
}
