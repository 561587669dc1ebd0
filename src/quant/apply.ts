/**
 * @fileoverview Apply a recipe to a model: plan (recipe.ts), calibrate (calibrate.ts), then
 * rewrite the graph into QDQ form with quantized element types —
 *
 *   weights:             %w : f32[K,N]  →  %w_q : q<i8, @w_q.scale, @w_q.zero, axis=1>[K,N]
 *                                            %w_dq = q.dequantize(%w_q)
 *   static activations:  %x             →  %x_q = q.quantize(%x) : q<u8, 0.021, 131>[…]
 *                                            %x_dq = q.dequantize(%x_q)
 *   dynamic activations: %x             →  onnx.DynamicQuantizeLinear(%x) → onnx.DequantizeLinear
 *
 * and the planned nodes read the dequantized values. Everything else stays float, so the result
 * runs in the reference interpreter as is and exports to QDQ ONNX that ONNX Runtime runs.
 */
import { Builder, constantOf } from '../ir/builder.js';
import { LutraError, fail, isLutraError } from '../ir/diagnostics.js';
import { runPipeline } from '../passes/manager.js';
import { dtypeInfo } from '../ir/dtype.js';
import type { Graph, Model, Node, Value } from '../ir/graph.js';
import { getAttr } from '../ir/registry.js';
import { Tensor } from '../ir/tensor.js';
import { eraseDead, graphTree } from '../rewrite/erase.js';
import { expressedDType, type QuantType } from '../ir/types.js';
import { type Calibration, activationRange, calibrate } from './calibrate.js';
import { type QuantParams, type QuantScheme, dequantize, formatInfo, paramsFromRange, sqnr } from './quantizer.js';
import { type QuantPlan, type Recipe, type WeightRounding, planQuantization } from './recipe.js';
import { type WeightQuantResult, clipSearch, gptq, rtn } from './weights.js';

/** Options of `quantizeModel`. */
export interface QuantizeOptions {
  /** Calibration data directory; required when the recipe has static activations or GPTQ weights. */
  calib?: string;
  /** Use at most this many calibration samples. */
  maxSamples?: number;
  /** Calibration progress: data sets done of total. */
  onProgress?: (done: number, total: number) => void;
}

/** What happened to one quantized weight. */
export interface QuantizedWeight {
  /** The float constant's name (the quantized one is `<name>_quantized`). */
  name: string;
  node: Node;
  scheme: QuantScheme;
  /** The rounding used (GPTQ falls back to clip search where it does not apply; see notes). */
  rounding: WeightRounding;
  /** SQNR of the dequantized weight against the float one, in dB. */
  sqnr: number;
  elements: number;
  /** Storage bits per element, parameters excluded. */
  bits: number;
  /** Bytes of the float weight and of the quantized one (storage + scales + zero points). */
  bytesBefore: number;
  bytesAfter: number;
}

/** What happened to one quantized activation tensor. */
export interface QuantizedActivation {
  /** The float value's name; `<name>_dequantized` is what the consumers read now. */
  name: string;
  scheme: QuantScheme;
  mode: 'static' | 'dynamic';
  consumers: Node[];
  /** Static: the calibrated clip range and the parameters chosen from it. */
  range?: { min: number; max: number };
  params?: QuantParams;
  /** Calibration elements ignored as mask sentinels (|x| ≥ 1e30). */
  sentinels: number;
}

/** The result of `quantizeModel`: the plan, the calibration and a record of every change. */
export interface QuantizeResult {
  plan: QuantPlan;
  calibration: Calibration | undefined;
  weights: QuantizedWeight[];
  activations: QuantizedActivation[];
  notes: string[];
}

/**
 * The whole recipe: its `passes` (outlier migration and the like, run with the calibration data
 * in their context; the pass registry must be loaded, e.g. by importing src/passes/index.ts),
 * then `quantizeModel`.
 */
export async function applyRecipe(model: Model, recipe: Recipe, opts: QuantizeOptions & { log?: (line: string) => void } = {}): Promise<QuantizeResult> {
  await runRecipePasses(model, recipe, opts);
  return quantizeModel(model, recipe, opts);
}

/** The first half of applyRecipe: run the recipe's pass pipeline with the calibration data in its context; errors name the recipe. */
export async function runRecipePasses(model: Model, recipe: Recipe, opts: { calib?: string; maxSamples?: number; log?: (line: string) => void } = {}): Promise<void> {
  if (recipe.passes.trim() === '') return;
  try {
    await runPipeline(model, recipe.passes, { calib: opts.calib, samples: opts.maxSamples, log: opts.log });
  } catch (e) {
    if (isLutraError(e)) throw new LutraError(e.code, `recipe '${recipe.name}' passes "${recipe.passes}": ${e.message}`, recipe.source);
    throw e;
  }
}

/** Bytes of every weight-store entry of a model: what its weights cost, before file framing. */
export function weightBytes(m: Model): number {
  let n = 0;
  for (const k of m.weights.keys()) {
    const t = m.weights.get(k)!;
    n += Math.ceil((t.size * dtypeInfo(t.dtype).bits) / 8);
  }
  return n;
}

/** Whether any part of a plan needs calibration data. */
export function needsCalibration(plan: QuantPlan): boolean {
  return plan.activations.some((a) => a.mode === 'static') || plan.weights.some((w) => w.rounding === 'gptq');
}

/**
 * How GPTQ sees a weight: the input dim K, and whether the weight is stored transposed ([N, K],
 * Gemm transB). GPTQ takes rank-2 B operands of MatMul / MatMulAdd / Gemm; undefined otherwise.
 */
function gptqLayout(node: Node, input: number, w: Value): { k: number; transposed: boolean } | undefined {
  const s = w.type.shape;
  if (input !== 1 || !s || s.length !== 2 || typeof s[0] !== 'number' || typeof s[1] !== 'number') return undefined;
  if (node.op === 'onnx.MatMul' || node.op === 'fused.MatMulAdd') return { k: s[0], transposed: false };
  if (node.op !== 'onnx.Gemm' || getAttr<number>(node, 'transA') !== 0) return undefined;
  const transposed = getAttr<number>(node, 'transB') !== 0;
  return { k: transposed ? s[1] : s[0], transposed };
}

/** A 2-D tensor transposed. */
function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const out = Tensor.zeros(t.dtype, [c, r]);
  const src = t.data as ArrayLike<number>;
  const dst = out.data as Float32Array;
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j]!;
  return out;
}

/**
 * GPTQ on a weight as GPTQ wants it ([K, N]); a transposed [N, K] weight is transposed in, and
 * the integers and (2-D, blocked) parameters are transposed back out.
 */
function gptqWeight(t: Tensor, xtx: Float64Array, scheme: QuantScheme, transposed: boolean): WeightQuantResult {
  if (!transposed) return gptq(t, xtx, scheme);
  // the planned scheme is for [N, K]: channels on axis 0, groups along axis 1 → swap for [K, N]
  const swapped: QuantScheme = scheme.granularity === 'tensor' ? scheme : { ...scheme, axis: 1 - (scheme.axis ?? 1) };
  const r = gptq(transpose2d(t), xtx, swapped);
  const p = r.params;
  if (p.shape.length !== 2) return { ...r, q: transpose2d(r.q), params: { ...p, scheme } };
  const [a, b] = p.shape as [number, number];
  const scale = new Float32Array(p.scale.length);
  const zero = new Int32Array(p.zero.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) { scale[j * a + i] = p.scale[i * b + j]!; zero[j * a + i] = p.zero[i * b + j]!; }
  return { ...r, q: transpose2d(r.q), params: { scheme, scale, zero, shape: [b, a] } };
}

/** Store parameters in the weight store (per channel / group) or inline them (per tensor) as a quantized type. */
function quantType(g: Graph, p: QuantParams, expressed: QuantType['expressed'], key: string): QuantType {
  const { storage, bits } = formatInfo(p.scheme.format);
  const perTensor = p.shape.length === 0;
  let scale: number | string = p.scale[0]!;
  let zero: number | string = p.zero[0]!;
  if (!perTensor) {
    scale = `${key}.scale`;
    zero = `${key}.zero`;
    g.weights.set(scale, new Tensor('f32', p.shape, Float32Array.from(p.scale)));
    g.weights.set(zero, Tensor.from(storage, p.shape, p.zero));
  }
  const qt: QuantType = bits === undefined ? { kind: 'quant', storage, expressed, scale, zero } : { kind: 'quant', storage, expressed, scale, zero, bits };
  if (perTensor) return qt;
  const axis = p.scheme.axis ?? 1;
  return p.scheme.granularity === 'group' ? { ...qt, axis, group: p.scheme.group! } : { ...qt, axis };
}

/**
 * Quantize `model` in place with `recipe`: plan, calibrate when needed, round the weights, insert
 * the activation quantizers. Returns what was done; `notes` holds every fallback.
 */
export function quantizeModel(model: Model, recipe: Recipe, opts: QuantizeOptions = {}): QuantizeResult {
  const g = model.graph;
  const plan = planQuantization(model, recipe);
  const notes = [...plan.notes];
  const xtx = new Map<Value, number>();
  for (const w of plan.weights) {
    if (w.rounding !== 'gptq') continue;
    const layout = gptqLayout(w.node, w.input, w.value);
    const x = w.node.inputs[0];
    if (layout && x && !x.isConst) xtx.set(x, layout.k);
  }
  let calibration: Calibration | undefined;
  if (needsCalibration(plan)) {
    if (!opts.calib) fail('usage', `recipe '${recipe.name}' has ${plan.activations.some((a) => a.mode === 'static') ? 'static activations' : 'GPTQ weights'}, which need calibration data (--calib <dir>)`);
    calibration = calibrate(model, plan, opts.calib, { onProgress: opts.onProgress, maxSamples: opts.maxSamples, xtx });
  }

  // ---- weights ----
  const weights: QuantizedWeight[] = [];
  const done = new Map<string, Value>();
  for (const pw of plan.weights) {
    const { node, input, value, scheme } = pw;
    const t = constantOf(pw.graph, value);
    if (!t) fail('model', `weight '${value.name}' of ${node.describe()} has no data`);
    // one quantized copy per weight, scheme and graph (a q.dequantize in one If branch is not visible in another)
    const cacheKey = `${value.name}|${JSON.stringify(scheme)}|${pw.rounding}|${pw.graph.name}`;
    let dq = done.get(cacheKey);
    let rounding = pw.rounding;
    if (!dq) {
      let res: WeightQuantResult;
      const x = node.inputs[0];
      const h = x ? calibration?.tensors.get(x)?.xtx : undefined;
      const layout = gptqLayout(node, input, value);
      if (rounding === 'gptq' && h && layout) {
        res = gptqWeight(t, h, scheme, layout.transposed);
      } else {
        if (rounding === 'gptq') {
          notes.push(`${node.describe()}: GPTQ applies to rank-2 MatMul / Gemm weights with a calibrated input; weight '${value.name}' uses clip search`);
          rounding = 'clip';
        }
        res = rounding === 'clip' ? clipSearch(t, scheme) : rtn(t, scheme);
      }
      const key = g.freshName(`${value.name}_quantized`);
      const qt = quantType(g, res.params, expressedDType(value.type.dtype), key);
      const qv = g.addConstant(key, res.q);
      qv.type = { dtype: qt, shape: value.type.shape };
      const b = new Builder(pw.graph);
      b.insertionPoint = node;
      dq = b.op('q.dequantize', [qv], {}, { out: `${value.name}_dequantized` });
      done.set(cacheKey, dq);
      const bits = dtypeInfo(qt.storage).bits;
      const params = res.params.scale.length;
      const deq = dequantize(res.q, res.params).data as Float32Array;
      weights.push({
        name: value.name, node, scheme, rounding,
        sqnr: sqnr(t.data as ArrayLike<number>, deq),
        elements: t.size, bits,
        bytesBefore: t.size * (dtypeInfo(t.dtype).bits / 8),
        bytesAfter: Math.ceil((t.size * bits) / 8) + (params > 1 ? params * (4 + bits / 8) : 0),
      });
    }
    node.inputs[input] = dq;
  }

  // ---- activations ----
  const activations: QuantizedActivation[] = [];
  for (const act of plan.activations) {
    const v = act.value;
    const first = act.consumers[0]!;
    const b = new Builder(act.graph);
    b.insertionPoint = first;
    let dq: Value;
    const rec: QuantizedActivation = { name: v.name, scheme: act.scheme, mode: act.mode, consumers: act.consumers, sentinels: 0 };
    if (act.mode === 'dynamic') {
      if (v.type.dtype !== 'f32' || act.scheme.format !== 'uint8' || act.scheme.granularity !== 'tensor') {
        notes.push(`activation '${v.name}': dynamic quantization is uint8 per-tensor on f32 (ONNX DynamicQuantizeLinear); left in float`);
        continue;
      }
      const dql = b.node('onnx.DynamicQuantizeLinear', [v], {}, 3, { out: `${v.name}_dynamic` });
      dq = b.op('onnx.DequantizeLinear', dql.outputs, {}, { out: `${v.name}_dequantized` });
    } else {
      const cal = calibration!.tensors.get(v);
      if (!cal?.observer?.count) {
        notes.push(`activation '${v.name}' was never computed on the calibration data (an If branch not taken?); left in float`);
        continue;
      }
      rec.sentinels = cal.sentinels;
      const range = activationRange(calibration!, act);
      const { qmin, qmax } = formatInfo(act.scheme.format);
      const ch = act.scheme.granularity === 'channel' ? cal?.observer?.channelRanges({ qmin, qmax, symmetric: act.scheme.symmetric }) : undefined;
      const params = ch && ch.length > 0
        ? paramsFromRange(ch.map((r) => r.min), ch.map((r) => r.max), act.scheme)
        : paramsFromRange(range.min, range.max, { ...act.scheme, granularity: 'tensor' });
      rec.range = range;
      rec.params = params;
      const qt = quantType(g, params, expressedDType(v.type.dtype), act.graph.freshName(`${v.name}_quantized`));
      const q = b.op('q.quantize', [v], {}, { out: `${v.name}_quantized`, types: [{ dtype: qt, shape: v.type.shape }] });
      dq = b.op('q.dequantize', [q], {}, { out: `${v.name}_dequantized` });
    }
    for (const c of act.consumers) c.inputs = c.inputs.map((x) => (x === v ? dq : x));
    activations.push(rec);
  }
  // float weights now read by nobody go, with their weight-store entries
  for (const graph of graphTree(g)) eraseDead(graph, plan.weights.filter((w) => graph.constants.includes(w.value)).map((w) => w.value));
  return { plan, calibration, weights, activations, notes };
}
