/**
 * @fileoverview `fold-constants`: evaluate nodes whose operands are all constants with the
 * interpreter's kernels and replace their results by constants; `Shape`/`Size` of a value with
 * a static shape become constants too, so shape-computing subgraphs fold away; an `If` whose
 * condition is now constant is replaced by the branch it takes.
 */
import { constantOf } from '../ir/builder.js';
import { Graph, Node, Value } from '../ir/graph.js';
import { getAttr } from '../ir/registry.js';
import { Tensor } from '../ir/tensor.js';
import { isStaticShape, numel, storageDType } from '../ir/types.js';
import { getKernel } from '../interp/kernel.js';
import '../interp/kernels/index.js';
import { eraseDead, graphTree, rootGraph } from '../rewrite/erase.js';
import { definePass, registerPass } from './manager.js';

/** Clamp ONNX Shape's start/end to [0, rank]. */
function shapeRange(rank: number, start: number, end: number | undefined): [number, number] {
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const s = clamp(start);
  return [s, Math.max(s, clamp(end ?? rank))];
}

/** The results of `n` computed statically, or why they cannot be. */
function evaluate(g: Graph, n: Node, maxElements: number): Tensor[] | string {
  const x = n.inputs[0];
  if ((n.op === 'onnx.Shape' || n.op === 'onnx.Size') && x && isStaticShape(x.type.shape)) {
    const s = x.type.shape;
    if (n.op === 'onnx.Size') return [Tensor.scalar('i64', numel(s))];
    const [a, b] = shapeRange(s.length, getAttr<number>(n, 'start'), n.attrs.end as number | undefined);
    return [Tensor.from('i64', [b - a], s.slice(a, b))];
  }
  if (Object.values(n.attrs).some((a) => a instanceof Graph)) return 'it has a subgraph';
  if (n.op.startsWith('q.')) return 'quantization boundaries are kept (folding would undo quantization)';
  const present = n.inputs.filter((v): v is Value => v !== null);
  if (present.length === 0) return 'it has no operands';
  const ins = n.inputs.map((v) => (v ? constantOf(g, v) : undefined));
  const missing = n.inputs.findIndex((v, i) => v !== null && ins[i] === undefined);
  if (missing >= 0) return `operand ${missing} is not a constant`;
  const big = n.outputs.find((o) => isStaticShape(o.type.shape) && numel(o.type.shape) > maxElements);
  if (big) return `result %${big.name} would exceed max-elements`;
  const kernel = getKernel(n.op);
  if (!kernel) return 'the interpreter has no kernel for it';
  let outs: Tensor[];
  try {
    outs = kernel(ins, n, { runSubgraph: () => { throw new Error('no subgraphs here'); }, weight: (k) => g.requireWeight(k) });
  } catch (e) {
    return `evaluation failed: ${(e as Error).message}`;
  }
  if (outs.some((t) => t.size > maxElements)) return 'a result would exceed max-elements';
  return outs;
}

/** Every value name in the model (all graphs), to keep names unique when values move. */
function allNames(root: Graph): Set<string> {
  const s = new Set<string>();
  for (const g of graphTree(root)) {
    for (const v of [...g.inputs, ...g.constants]) s.add(v.name);
    for (const n of g.nodes) for (const o of n.outputs) s.add(o.name);
  }
  return s;
}

function freshIn(used: Set<string>, base: string): string {
  let name = base;
  for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
  used.add(name);
  return name;
}

/** Replace `n` (at index `i` of `g`) by its results as constants. */
function replaceByConstants(g: Graph, n: Node, i: number, outs: readonly Tensor[]): void {
  g.nodes.splice(i, 1);
  n.outputs.forEach((o, k) => {
    const t = outs[k];
    if (!t) return;
    let key = o.name;
    for (let j = 1; g.weights.has(key); j++) key = `${o.name}_${j}`;
    const c = g.addConstant(o.name, t, key);
    c.type = { dtype: storageDType(o.type.dtype) === t.dtype ? o.type.dtype : t.dtype, shape: t.shape };
    g.replaceAllUses(o, c);
  });
  eraseDead(g, n.inputs.flatMap((v) => (v ? [v.producer ?? v] : [])));
}

/** Replace the If node `n` (at index `i` of `g`) by the nodes of `branch`. */
function inlineBranch(g: Graph, n: Node, i: number, branch: Graph): void {
  const used = allNames(rootGraph(g));
  const moved = new Set<Value>([...branch.constants, ...branch.nodes.flatMap((m) => m.outputs)]);
  for (const v of moved) { used.delete(v.name); v.name = freshIn(used, v.name); }
  g.constants.push(...branch.constants);
  for (const m of branch.nodes) for (const a of Object.values(m.attrs)) if (a instanceof Graph) a.parent = g;
  g.nodes.splice(i, 1, ...branch.nodes);
  n.outputs.forEach((o, k) => {
    let rep = branch.outputs[k]!;
    if (g.outputs.includes(o)) {
      if (moved.has(rep)) rep.name = o.name;
      else {
        // The result is a graph output and the branch returns an outer value: keep the output's name.
        const out = new Value(o.name, o.type);
        g.nodes.splice(i + branch.nodes.length, 0, new Node('onnx.Identity', [rep], [out]));
        rep = out;
      }
    }
    g.replaceAllUses(o, rep);
  });
  eraseDead(g, n.inputs.flatMap((v) => (v ? [v.producer ?? v] : [])));
}

/** Fold the nodes of `g` in order; returns the number of nodes folded or inlined. */
function foldGraph(g: Graph, maxElements: number, trace: ((line: string) => void) | undefined): number {
  let folded = 0;
  for (let i = 0; i < g.nodes.length; i++) {
    const n = g.nodes[i]!;
    if (n.op === 'onnx.If') {
      const cond = constantOf(g, n.inputs[0]!);
      if (cond) {
        const taken = cond.get(0) ? 'then_branch' : 'else_branch';
        inlineBranch(g, n, i, n.attrs[taken] as Graph);
        trace?.(`inlined ${taken} of ${n.describe()}`);
        folded++;
        i--;
        continue;
      }
    }
    const r = evaluate(g, n, maxElements);
    if (typeof r === 'string') {
      if (n.inputs.some((v) => v && constantOf(g, v))) trace?.(`kept ${n.describe()}: ${r}`);
      continue;
    }
    replaceByConstants(g, n, i, r);
    trace?.(`folded ${n.describe()}`);
    folded++;
    i--;
  }
  for (const n of g.nodes) for (const a of Object.values(n.attrs)) if (a instanceof Graph) folded += foldGraph(a, maxElements, trace);
  return folded;
}

export const foldConstants = definePass({
  name: 'fold-constants',
  summary: 'evaluate nodes with constant operands; Shape of static shapes; If with a constant condition',
  description: 'op(c1, c2) → c3 (computed by the interpreter kernel); Shape(x: f32[2,3]) → const [2, 3]; '
    + 'If(const true){then, else} → the nodes of then.',
  options: {
    'max-elements': { type: 'number', default: 1 << 20, doc: 'do not create constants with more elements than this' },
  },
  run(model, options, ctx) {
    foldGraph(model.graph, options['max-elements'], ctx.trace);
  },
});
registerPass(foldConstants);
