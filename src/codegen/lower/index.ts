/**
 * @fileoverview Graph IR → program: specialize shapes, decide where values materialize, lower
 * every node with its rule (rules.ts), schedule the kernels and plan the buffers.
 *
 * Where values materialize decides fusion. A lazy or pending value gets a buffer when it is a
 * graph output, when an anchor reads it many times (a MatMul operand), or when its uses end in
 * more than one kernel; otherwise it is computed inside the one kernel that reads it.
 *
 * An `If` whose condition is known at compile time lowers as its taken branch, inline: the
 * branch's nodes join the node list and the If's outputs alias the branch's outputs. An `If` on
 * input data lowers both branches, each kernel guarded by the condition (read at run time);
 * each branch copies its results into the If's output buffers.
 */
import { fail } from '../../ir/diagnostics.js';
import type { Graph, Model, Node, Value } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { strides } from '../../ir/tensor.js';
import { formatType, numel, storageDType } from '../../ir/types.js';
import { type Scalar, type Storage, linear, loopNest, store } from '../kernel-ir.js';
import { freeValues } from '../../interp/interpreter.js';
import { schedule } from '../schedule.js';
import type { IoSignature, Program } from '../program.js';
import { type Attention, attentionPatterns } from './attention.js';
import { type Form, Lowering, type TVal, cannotLower, elemOf, roundedF16, roundsToF16 } from './lowering.js';
import { plan } from './plan.js';
import { type IntOperands, intOperands, weightQuant } from './quant.js';
import { RULES, type RuleCtx } from './rules.js';
import { type ShapeBinding, type Specialized, specialize } from './specialize.js';

export type { ShapeBinding } from './specialize.js';

/** The nodes lowering visits, in order: a graph with its compile-time Ifs inlined. */
export interface FlatGraph {
  /** Every node, run-time If branches included (then before else, after their If). */
  readonly nodes: readonly Node[];
  /** The nodes lowered in sequence at the top level (a run-time If stands for its branches). */
  readonly steps: readonly Node[];
  /** Values that must end in a buffer: graph outputs and the results of run-time If branches. */
  readonly outputs: readonly Value[];
  /** An inlined If's output → the taken branch's output it stands for. */
  readonly alias: ReadonlyMap<Value, Value>;
  /** A run-time If → the steps of its then and else branches. */
  readonly runtime: ReadonlyMap<Node, readonly [readonly Node[], readonly Node[]]>;
}

/** The value `v` stands for once Ifs are inlined. */
export const resolve = (flat: FlatGraph, v: Value): Value => flat.alias.get(v) ?? v;

/** `g` with every If the trace resolved replaced by its taken branch (recursively); the other Ifs keep both branches. */
export function inlineIfs(g: Graph, spec: Pick<Specialized, 'statics' | 'branches'>): FlatGraph {
  const nodes: Node[] = [];
  const alias = new Map<Value, Value>();
  const results: Value[] = [];
  const runtime = new Map<Node, readonly [Node[], Node[]]>();
  const visit = (sub: Graph, steps: Node[]): void => {
    for (const n of sub.nodes) {
      const taken = n.op === 'onnx.If' && !n.outputs.every((o) => spec.statics.has(o)) ? spec.branches.get(n) : undefined;
      if (taken) {
        visit(taken, steps);
        n.outputs.forEach((o, j) => { const b = taken.outputs[j]; if (b) alias.set(o, alias.get(b) ?? b); });
        continue;
      }
      nodes.push(n);
      steps.push(n);
      if (n.op !== 'onnx.If' || n.outputs.every((o) => spec.statics.has(o))) continue;
      const arms: [Node[], Node[]] = [[], []];
      (['then_branch', 'else_branch'] as const).forEach((k, a) => {
        const branch = n.attrs[k] as Graph;
        visit(branch, arms[a]);
        results.push(...branch.outputs.map((b) => alias.get(b) ?? b));
      });
      runtime.set(n, arms);
    }
  };
  const steps: Node[] = [];
  visit(g, steps);
  return { nodes, steps, alias, runtime, outputs: [...g.outputs.map((v) => alias.get(v) ?? v), ...results] };
}

/** Value → the nodes reading it, through the aliases of inlined Ifs. */
function flatUses(flat: FlatGraph): Map<Value, Node[]> {
  const m = new Map<Value, Node[]>();
  for (const n of flat.nodes) {
    for (const x of n.inputs) {
      if (!x) continue;
      const v = resolve(flat, x);
      const l = m.get(v);
      if (l) { if (l[l.length - 1] !== n) l.push(n); } else m.set(v, [n]);
    }
  }
  return m;
}

/** Values that must get a buffer of their own (see the file comment). */
export function materializationPoints(
  flat: FlatGraph, statics: ReadonlyMap<Value, Tensor>, ints: ReadonlyMap<Node, IntOperands> = new Map(), attention: ReadonlyMap<Node, Attention> = new Map(),
): Set<Value> {
  const mat = new Set<Value>(flat.outputs);
  // an integer GEMM reads its activation's codes (8-bit, stored by the producer), not the dequantized value
  for (const iq of ints.values()) mat.add(iq.act.codes);
  const sinks = new Map<Value, Set<Value | Node>>();
  const uses = flatUses(flat);
  for (let i = flat.nodes.length - 1; i >= 0; i--) {
    for (const out of flat.nodes[i]!.outputs) {
      if (statics.has(out)) continue;
      const s = new Set<Value | Node>();
      for (const u of uses.get(out) ?? []) {
        if (ints.has(u) && u.inputs[0] === out && !u.inputs.slice(1).includes(out)) continue;
        const rule = RULES.get(u.op);
        if (!rule || rule.kind === 'anchor') {
          // the probabilities of a fused attention stay inside its kernel
          const read = (x: Value | null, p: number) => x && resolve(flat, x) === out && rule?.viewInputs?.includes(p) && !(p === 0 && attention.has(u));
          if (u.inputs.some(read)) mat.add(out);
          s.add(u);
        } else {
          for (const o of u.outputs) for (const x of sinks.get(o) ?? []) s.add(x);
        }
      }
      if (s.size > 1) mat.add(out);
      sinks.set(out, mat.has(out) ? new Set([out]) : s);
    }
  }
  return mat;
}

/** Anchors whose operand 1 may be a dequantized constant weight read through its codes. */
const ANCHORS_WITH_WEIGHTS = new Set(['onnx.MatMul', 'onnx.Gemm', 'onnx.Conv']);

function typeOf(v: Value, node?: Node): { elem: Storage; scalar: Scalar } {
  const e = elemOf(storageDType(v.type.dtype));
  if (e) return e;
  const what = `element type ${formatType(v.type)} of '${v.name}' is not supported (f32, f16, i64, i32, bool and 8/16-bit integers are)`;
  if (node) cannotLower(node, what);
  return fail('unsupported', `the wasm backend cannot compile: ${what}`);
}

/** Lower `model` for the shapes `bind` selects; kernels are scheduled, buffers planned. */
export function lowerModel(model: Model, bind: ShapeBinding): Program {
  const g = model.graph;
  const spec: Specialized = specialize(g, bind);
  const lw = new Lowering();
  const vals = new Map<Value, TVal>();
  const inputs: IoSignature[] = g.inputs.map((v) => {
    const elem = typeOf(v);
    const shape = spec.shapes.get(v)!;
    const buf = lw.buffer('input', elem.elem, numel(shape));
    vals.set(v, lw.tval(v.name, shape, elem.scalar, elem.elem, { k: 'view', buf, offset: 0, strides: strides(shape) }));
    return { name: v.name, dtype: elem.elem, shape, declaredShape: v.type.shape ?? shape, buffer: buf.name };
  });
  const constVal = (t: Tensor, name: string): TVal => {
    const e = elemOf(t.dtype) ?? fail('unsupported', `the wasm backend cannot compile: constant '${name}' has element type ${t.dtype}`);
    return lw.tval(name, t.shape, e.scalar, e.elem, { k: 'const', tensor: t });
  };
  const flat = inlineIfs(g, spec);
  const get = (x: Value): TVal => {
    const v = resolve(flat, x);
    const known = vals.get(v);
    if (known) return known;
    const t = spec.statics.get(v);
    if (!t) fail('model', `value '${v.name}' is used before it is defined`);
    const c = constVal(t, v.name);
    vals.set(v, c);
    return c;
  };
  const weight = (key: string) => g.requireWeight(key);
  const ints = new Map<Node, IntOperands>();
  for (const node of flat.nodes) {
    const iq = intOperands(node, spec.statics, weight);
    if (iq) ints.set(node, iq);
  }
  const uses = flatUses(flat);
  const attention = attentionPatterns(flat, uses, (x) => resolve(flat, x), spec.statics, ints, (op) => RULES.get(op)?.kind === 'elementwise');
  const inAttention = new Set([...attention.values()].map((a) => a.qk));
  const mat = materializationPoints(flat, spec.statics, ints, attention);
  const lowerNode = (node: Node): void => {
    if (node.outputs.every((o) => spec.statics.has(o))) return;
    const rule = RULES.get(node.op) ?? cannotLower(node, 'no lowering rule for this op yet');
    const outTypes = node.outputs.map((o) => typeOf(o, node));
    const ctx: RuleCtx = {
      lw, node,
      ins: node.inputs.map((v, p) => (v ? (rule.viewInputs?.includes(p) ? lw.widened(get(v)) : get(v)) : undefined)),
      outShapes: node.outputs.map((o) => spec.shapes.get(o) ?? []),
      outScalars: outTypes.map((t) => t.scalar),
      constant: (i) => { const v = node.inputs[i]; return v ? spec.statics.get(resolve(flat, v)) : undefined; },
      constVal,
      valueOf: get,
      weight,
      int: ints.get(node),
      wq: ANCHORS_WITH_WEIGHTS.has(node.op) ? weightQuant(node.inputs[1], spec.statics, weight) : undefined,
      soleUse: (i) => { const x = node.inputs[i] && resolve(flat, node.inputs[i]!); return !!x && uses.get(x)?.length === 1 && !flat.outputs.includes(x); },
      attention: attention.get(node),
      inAttention: inAttention.has(node),
    };
    const forms: Form[] = rule.lower(ctx);
    node.outputs.forEach((o, j) => {
      // f16 results are computed in f32 and rounded where defined (not views and selecting ops: roundsToF16)
      const form = forms[j] && outTypes[j]!.elem === 'f16' && roundsToF16(node, rule.kind) ? roundedF16(forms[j]!) : forms[j];
      if (!form) {
        if ((uses.get(o)?.length ?? 0) > 0 || flat.outputs.includes(o)) cannotLower(node, `output ${j} ('${o.name}') is not supported`);
        return;
      }
      const t = lw.tval(o.name, ctx.outShapes[j]!, outTypes[j]!.scalar, outTypes[j]!.elem, form);
      vals.set(o, t);
      if (mat.has(o)) lw.materialize(t);
    });
  };
  const lowerSteps = (steps: readonly Node[]): void => {
    for (const node of steps) {
      const arms = flat.runtime.get(node);
      if (arms) lowerRuntimeIf(node, arms); else lowerNode(node);
    }
  };
  /** Both branches, each kernel guarded by the condition; each branch copies its results into the If's output buffers. */
  const lowerRuntimeIf = (node: Node, arms: readonly (readonly Node[])[]): void => {
    const branches = [node.attrs.then_branch as Graph, node.attrs.else_branch as Graph];
    // values the branches capture are computed before either runs
    for (const b of branches) {
      for (const v of freeValues(b)) {
        const t = vals.get(resolve(flat, v));
        if (t && (t.form.k === 'lazy' || t.form.k === 'pending')) lw.materialize(t);
      }
    }
    const cond = get(node.inputs[0]!);
    lw.materialize(cond);
    const cf = cond.form;
    if (cf.k !== 'view' || cond.elem !== 'bool' || cond.shape.length > 0 && numel(cond.shape) !== 1) cannotLower(node, 'the condition must be one bool element');
    const outs = node.outputs.map((o, j) => {
      const shape = spec.shapes.get(o)!;
      branches.forEach((b, a) => {
        const bs = spec.shapes.get(alias(b.outputs[j]!));
        if (!bs || bs.length !== shape.length || bs.some((d, i) => d !== shape[i])) {
          cannotLower(node, `output ${j} has shape [${shape}] in one branch and [${bs ?? '?'}] in the ${a ? 'else' : 'then'} branch`);
        }
      });
      const ty = typeOf(o, node);
      const buf = lw.buffer('activation', ty.elem, numel(shape));
      return lw.tval(o.name, shape, ty.scalar, ty.elem, { k: 'view', buf, offset: 0, strides: strides(shape) });
    });
    arms.forEach((steps, a) => {
      lw.when.push({ buf: cf.buf.name, offset: cf.offset, value: a === 0 });
      lowerSteps(steps);
      branches[a]!.outputs.forEach((bo, j) => {
        const t = get(bo);
        const out = outs[j]!;
        const dst = (out.form as Extract<Form, { k: 'view' }>).buf;
        lw.settle(t);
        lw.kernel(`If.${a ? 'else' : 'then'}`, (cx) => loopNest('i', t.shape, (idx) => cx.scope(() => [store(cx.use(dst, 'write'), linear(idx, strides(t.shape)), cx.read(t, idx))]),
          (d) => (d === t.shape.length - 1 ? { vector: 4 } : { parallel: true })));
      });
      lw.when.pop();
    });
    node.outputs.forEach((o, j) => vals.set(o, outs[j]!));
  };
  const alias = (v: Value): Value => resolve(flat, v);
  lowerSteps(flat.steps);
  const outputs: IoSignature[] = g.outputs.map((v) => {
    const t = get(v);
    const buf = lw.output(t);
    return { name: v.name, dtype: t.elem, shape: t.shape, declaredShape: v.type.shape ?? t.shape, buffer: buf.name };
  });
  lw.dispatches.forEach((d, i) => { lw.dispatches[i] = { ...d, kernel: schedule(d.kernel) }; });
  return plan(lw, g.name, inputs, outputs);
}

