/**
 * @fileoverview Graph IR → program: specialize shapes, decide where values materialize, lower
 * every node with its rule (rules.ts), schedule the kernels and plan the buffers.
 *
 * Where values materialize decides fusion. A lazy or pending value gets a buffer when it is a
 * graph output, when an anchor reads it many times (a MatMul operand), or when its uses end in
 * more than one kernel; otherwise it is computed inside the one kernel that reads it.
 */
import { fail } from '../../ir/diagnostics.js';
import type { Graph, Model, Node, Value } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { strides } from '../../ir/tensor.js';
import { formatType, numel, storageDType } from '../../ir/types.js';
import type { Scalar, Storage } from '../kernel-ir.js';
import { schedule } from '../schedule.js';
import type { IoSignature, Program } from '../program.js';
import { type Form, Lowering, type TVal, cannotLower, elemOf } from './lowering.js';
import { plan } from './plan.js';
import { type IntOperands, intOperands, weightQuant } from './quant.js';
import { RULES, type RuleCtx } from './rules.js';
import { type ShapeBinding, type Specialized, specialize } from './specialize.js';

export type { ShapeBinding } from './specialize.js';

/** Values that must get a buffer of their own (see the file comment). */
export function materializationPoints(g: Graph, statics: ReadonlyMap<Value, Tensor>, ints: ReadonlyMap<Node, IntOperands> = new Map()): Set<Value> {
  const mat = new Set<Value>(g.outputs);
  // an integer GEMM reads its activation's codes (8-bit, stored by the producer), not the dequantized value
  for (const iq of ints.values()) mat.add(iq.act.codes);
  const sinks = new Map<Value, Set<Value | Node>>();
  const uses = g.useMap();
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    for (const out of g.nodes[i]!.outputs) {
      if (statics.has(out)) continue;
      const s = new Set<Value | Node>();
      for (const u of uses.get(out) ?? []) {
        if (ints.has(u) && u.inputs[0] === out && !u.inputs.slice(1).includes(out)) continue;
        const rule = RULES.get(u.op);
        if (!rule || rule.kind === 'anchor') {
          if (u.inputs.some((x, p) => x === out && rule?.viewInputs?.includes(p))) mat.add(out);
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
  const what = `element type ${formatType(v.type)} of '${v.name}' is not supported (f32, i64, i32, bool and 8/16-bit integers are)`;
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
  const get = (v: Value): TVal => {
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
  for (const node of g.nodes) {
    const iq = intOperands(node, spec.statics, weight);
    if (iq) ints.set(node, iq);
  }
  const mat = materializationPoints(g, spec.statics, ints);
  const uses = g.useMap();
  for (const node of g.nodes) {
    if (node.outputs.every((o) => spec.statics.has(o))) continue;
    const rule = RULES.get(node.op) ?? cannotLower(node, 'no lowering rule for this op yet');
    const outTypes = node.outputs.map((o) => typeOf(o, node));
    const ctx: RuleCtx = {
      lw, node,
      ins: node.inputs.map((v) => (v ? get(v) : undefined)),
      outShapes: node.outputs.map((o) => spec.shapes.get(o) ?? []),
      outScalars: outTypes.map((t) => t.scalar),
      constant: (i) => { const v = node.inputs[i]; return v ? spec.statics.get(v) : undefined; },
      constVal,
      valueOf: get,
      weight,
      int: ints.get(node),
      wq: ANCHORS_WITH_WEIGHTS.has(node.op) ? weightQuant(node.inputs[1], spec.statics, weight) : undefined,
    };
    const forms: Form[] = rule.lower(ctx);
    node.outputs.forEach((o, j) => {
      const form = forms[j];
      if (!form) {
        if ((uses.get(o)?.length ?? 0) > 0 || g.outputs.includes(o)) cannotLower(node, `output ${j} ('${o.name}') is not supported`);
        return;
      }
      const t = lw.tval(o.name, ctx.outShapes[j]!, outTypes[j]!.scalar, outTypes[j]!.elem, form);
      vals.set(o, t);
      if (mat.has(o)) lw.materialize(t);
    });
  }
  const outputs: IoSignature[] = g.outputs.map((v) => {
    const t = get(v);
    const buf = lw.output(t);
    return { name: v.name, dtype: t.elem, shape: t.shape, declaredShape: v.type.shape ?? t.shape, buffer: buf.name };
  });
  lw.dispatches.forEach((d, i) => { lw.dispatches[i] = { ...d, kernel: schedule(d.kernel) }; });
  return plan(lw, g.name, inputs, outputs);
}

