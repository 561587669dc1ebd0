/**
 * @fileoverview Equivalent per-channel transformations of a linear layer's input — the common
 * mechanics of SmoothQuant, Outlier Suppression+, AWQ and OutlierTune (techniques §3–§6).
 *
 * A *site* is an activation X [..., K] read only by linear layers with constant weights
 * (MatMul / fused.MatMulAdd with B [K, N], Gemm with B [K, N] or, transB, [N, K]). For a
 * per-channel scale s and shift z,
 *
 *     Y = X·W + b = ((X − z) / s) · (diag(s)·W) + (b + z·W)
 *
 * so the site is rewritten by (1) making the producer of X emit (X − z) / s — folded into a
 * LayerNormalization / RMSNormalization's γ and β, a decomposed norm's final Mul / Add by
 * constants, or a preceding linear's output columns and bias; an explicit Mul / Sub only when
 * nothing can absorb it — and (2) scaling the consumers' weight rows by s and adding z·W to
 * their biases. In float the model computes the same function (up to rounding); what changes
 * is how hard X and W are to quantize.
 */
import { Builder, constantOf } from '../ir/builder.js';
import { fail } from '../ir/diagnostics.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import { getAttr } from '../ir/registry.js';
import { Tensor } from '../ir/tensor.js';
import { eraseDead } from '../rewrite/erase.js';
import { calibrate } from './calibrate.js';
import type { ChannelStats } from './observers.js';
import { type QuantScheme, fakeQuant, paramsForTensor } from './quantizer.js';
import type { QuantPlan, Recipe } from './recipe.js';

/** A linear layer reading the site: `node` input 0 is X, `weight` is constant. */
export interface SiteLinear {
  node: Node;
  weight: Value;
  /** The axis of the weight that runs along K (0 for [K, N], 1 for Gemm transB [N, K]). */
  kAxis: number;
  /** The bias constant added to the product, and the node that adds it (Gemm C, MatMulAdd C, or a following Add). */
  bias?: { value: Value; node: Node; input: number };
}

/** How the producer of X takes X → (X − z) / s. */
export type Absorber =
  | { kind: 'norm'; node: Node }
  | { kind: 'affine'; mul: Node; gammaInput: number; add?: Node; betaInput?: number }
  | { kind: 'linear'; linear: SiteLinear }
  | { kind: 'explicit' };

/** An activation that only linear layers read, with how its producer can absorb a scale / shift. */
export interface MigrationSite {
  graph: Graph;
  x: Value;
  k: number;
  /**
   * Channel-preserving ops between the absorber and X (LayerNorm → Gather(CLS token) → Gemm),
   * producer first; empty when the absorber produces X itself.
   */
  through: Node[];
  consumers: SiteLinear[];
  absorber: Absorber;
}

const LINEARS = new Set(['onnx.MatMul', 'fused.MatMulAdd', 'onnx.Gemm']);

function constVector(g: Graph, v: Value | null | undefined, k: number): Tensor | undefined {
  if (!v) return undefined;
  const t = constantOf(g, v);
  return t && t.rank === 1 && t.shape[0] === k ? t : undefined;
}

/** `node` as a linear layer with a constant weight and its input 0 being `x`, or why not. */
function asLinear(g: Graph, node: Node, x: Value, uses: Map<Value, Node[]>): SiteLinear | string {
  if (!LINEARS.has(node.op)) return `${node.describe()} is not a linear layer`;
  if (node.inputs[0] !== x) return `${node.describe()} reads it as a weight, not as its input`;
  const w = node.inputs[1];
  const wt = w ? constantOf(g, w) : undefined;
  if (!w || !wt || wt.rank !== 2) return `${node.describe()} has no constant 2-D weight`;
  let kAxis = 0;
  if (node.op === 'onnx.Gemm') {
    if (getAttr<number>(node, 'transA') !== 0) return `${node.describe()} transposes A`;
    kAxis = getAttr<number>(node, 'transB') !== 0 ? 1 : 0;
  }
  const lin: SiteLinear = { node, weight: w, kAxis };
  const n = wt.shape[1 - kAxis]!;
  const biasAt = (bn: Node, input: number): SiteLinear['bias'] => {
    const bv = bn.inputs[input];
    return constVector(g, bv, n) ? { value: bv!, node: bn, input } : undefined;
  };
  if (node.op === 'onnx.Gemm') {
    if (node.inputs[2]) {
      const b = biasAt(node, 2);
      if (!b || getAttr<number>(node, 'beta') !== 1 || getAttr<number>(node, 'alpha') !== 1) return `${node.describe()} has a bias Lutra cannot shift (not a constant vector, or alpha/beta ≠ 1)`;
      lin.bias = b;
    }
  } else if (node.op === 'fused.MatMulAdd') {
    const b = biasAt(node, 2);
    if (!b) return `${node.describe()} has a bias that is not a constant [N] vector`;
    lin.bias = b;
  } else {
    const y = node.outputs[0]!;
    const next = uses.get(y);
    if (next?.length === 1 && next[0]!.op === 'onnx.Add') {
      const add = next[0]!;
      const other = add.inputs[0] === y ? 1 : 0;
      lin.bias = biasAt(add, other);
    }
  }
  return lin;
}

/**
 * Ops that move whole channel vectors without mixing channels (the last axis stays the channel
 * axis, element for element), so a per-channel scale / shift on their input is the same on
 * their output: Identity, Reshape and Squeeze/Unsqueeze keeping the last dim, Transpose
 * keeping the last axis, Gather on another axis.
 */
export function channelPreserving(n: Node): boolean {
  const inShape = n.inputs[0]?.type.shape;
  const outShape = n.outputs[0]?.type.shape;
  if (!inShape || !outShape || n.outputs.length !== 1) return false;
  const kIn = inShape[inShape.length - 1];
  if (typeof kIn !== 'number' || kIn !== outShape[outShape.length - 1]) return false;
  const rank = inShape.length;
  switch (n.op) {
    case 'onnx.Identity':
    case 'onnx.Squeeze':
    case 'onnx.Unsqueeze':
    case 'onnx.Reshape': // row-major: equal last dims keep the flat index mod K
      return true;
    case 'onnx.Transpose': {
      const perm = n.attrs.perm as number[] | undefined;
      return perm !== undefined && perm[perm.length - 1] === rank - 1;
    }
    case 'onnx.Gather': {
      const axis = getAttr<number>(n, 'axis');
      return (axis < 0 ? axis + rank : axis) < rank - 1;
    }
    default:
      return false;
  }
}

/**
 * The absorber of `x`, looking back through channel-preserving ops when its own producer cannot
 * take the scale (every value on the way must have that one reader and not be a graph output).
 */
function absorberThrough(g: Graph, x: Value, k: number, uses: Map<Value, Node[]>): { absorber: Absorber; through: Node[] } {
  const direct = absorberOf(g, x, k, uses);
  if (direct.kind !== 'explicit') return { absorber: direct, through: [] };
  const through: Node[] = [];
  let v = x;
  for (let n = v.producer; n && channelPreserving(n); n = v.producer) {
    through.unshift(n);
    v = n.inputs[0]!;
    if (uses.get(v)?.length !== 1 || g.outputs.includes(v)) break;
    const a = absorberOf(g, v, k, uses);
    if (a.kind !== 'explicit') return { absorber: a, through };
  }
  return { absorber: direct, through: [] };
}

/** How the producer of `x` can absorb a per-channel scale / shift. */
function absorberOf(g: Graph, x: Value, k: number, uses: Map<Value, Node[]>): Absorber {
  const p = x.producer;
  if (!p) return { kind: 'explicit' };
  if (p.op === 'onnx.LayerNormalization' || p.op === 'onnx.RMSNormalization') {
    const rank = p.inputs[0]!.type.shape?.length;
    const axis = getAttr<number>(p, 'axis');
    const last = axis === -1 || (rank !== undefined && axis === rank - 1);
    const gammaOk = constVector(g, p.inputs[1], k) !== undefined;
    const betaOk = p.op === 'onnx.RMSNormalization' || !p.inputs[2] || constVector(g, p.inputs[2], k) !== undefined;
    if (last && gammaOk && betaOk && p.outputs.length === 1) return { kind: 'norm', node: p };
  }
  // decomposed norm tail: Add(Mul(n, γ), β) or Mul(n, γ), constants of shape [K]
  const mulOf = (n: Node | undefined): { mul: Node; gammaInput: number } | undefined => {
    if (!n || n.op !== 'onnx.Mul') return undefined;
    const gi = constVector(g, n.inputs[1], k) ? 1 : constVector(g, n.inputs[0], k) ? 0 : -1;
    return gi < 0 ? undefined : { mul: n, gammaInput: gi };
  };
  if (p.op === 'onnx.Add') {
    const bi = constVector(g, p.inputs[1], k) ? 1 : constVector(g, p.inputs[0], k) ? 0 : -1;
    const m = bi < 0 ? undefined : mulOf(p.inputs[1 - bi]!.producer);
    if (m && uses.get(m.mul.outputs[0]!)?.length === 1) return { kind: 'affine', ...m, add: p, betaInput: bi };
  }
  const m = mulOf(p);
  if (m) return { kind: 'affine', ...m };
  if (LINEARS.has(p.op) && uses.get(p.inputs[0]!) !== undefined) {
    const pu = new Map(uses);
    const lin = asLinear(g, p, p.inputs[0]!, pu);
    if (typeof lin !== 'string' && (p.op !== 'onnx.MatMul' || !lin.bias)) return { kind: 'linear', linear: lin };
  }
  return { kind: 'explicit' };
}

/**
 * Every migration site of `g`: activations whose every reader is a linear layer with a constant
 * weight (and that are not graph outputs). `skipped` receives why other linear inputs are not sites.
 */
export function findSites(g: Graph, skipped?: (x: Value, why: string) => void): MigrationSite[] {
  const uses = g.useMap();
  const outs = new Set(g.outputs);
  const sites: MigrationSite[] = [];
  const seen = new Set<Value>();
  for (const node of g.nodes) {
    if (!LINEARS.has(node.op)) continue;
    const x = node.inputs[0];
    if (!x || seen.has(x) || x.isConst) continue;
    seen.add(x);
    // K from the type, else from the weight (types inside If branches may be unranked)
    const w = node.inputs[1] ? constantOf(g, node.inputs[1]) : undefined;
    const kFromWeight = w?.rank === 2 ? w.shape[node.op === 'onnx.Gemm' && getAttr<number>(node, 'transB') !== 0 ? 1 : 0] : undefined;
    const last = x.type.shape?.[x.type.shape.length - 1];
    const k = typeof last === 'number' ? last : kFromWeight;
    if (typeof k !== 'number') { skipped?.(x, 'its channel count is not known'); continue; }
    if (outs.has(x)) { skipped?.(x, 'it is a graph output'); continue; }
    const consumers: SiteLinear[] = [];
    let why: string | undefined;
    for (const u of uses.get(x) ?? []) {
      const lin = asLinear(g, u, x, uses);
      if (typeof lin === 'string') { why = lin; break; }
      consumers.push(lin);
    }
    if (why) { skipped?.(x, why); continue; }
    sites.push({ graph: g, x, k, consumers, ...absorberThrough(g, x, k, uses) });
  }
  return sites;
}

// ---- rewriting ---------------------------------------------------------------------------------

/** A private copy of constant `v` (so a constant shared with other readers is not changed under them), set to `t`. */
function replaceConstant(g: Graph, reader: Node, input: number, t: Tensor, hint: string): Value {
  const nv = g.addConstant(g.freshName(hint), t);
  reader.inputs[input] = nv;
  return nv;
}

function f64(t: Tensor): Float64Array {
  return Float64Array.from(t.data as ArrayLike<number>);
}

/** Rewrite the vector constant at `node.inputs[input]` elementwise. */
function mapVector(g: Graph, node: Node, input: number, f: (v: number, j: number) => number, hint: string): void {
  const v = node.inputs[input]!;
  const t = constantOf(g, v)!;
  const d = f64(t);
  replaceConstant(g, node, input, Tensor.from(t.dtype, [...t.shape], d.map(f)), hint);
}

/** Scale the weight of `lin` along K by s (rows of [K, N], columns of transB [N, K]). */
function scaleWeightRows(g: Graph, lin: SiteLinear, s: Float64Array): void {
  const t = constantOf(g, lin.weight)!;
  const [r, c] = t.shape as [number, number];
  const d = f64(t);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) d[i * c + j]! *= lin.kAxis === 0 ? s[i]! : s[j]!;
  replaceConstant(g, lin.node, 1, Tensor.from(t.dtype, [r, c], d), `${lin.weight.name}_migrated`);
}

/** z·W (length N) for a weight of `lin`, before any scaling. */
function shiftTimesWeight(g: Graph, lin: SiteLinear, z: Float64Array): Float64Array {
  const t = constantOf(g, lin.weight)!;
  const [r, c] = t.shape as [number, number];
  const d = t.data as ArrayLike<number>;
  const n = lin.kAxis === 0 ? c : r;
  const out = new Float64Array(n);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) {
    const [kk, nn] = lin.kAxis === 0 ? [i, j] : [j, i];
    out[nn]! += z[kk]! * d[i * c + j]!;
  }
  return out;
}

/** Add `delta` to the bias of `lin`, creating one (an Add after a MatMul) when it has none. */
function addToBias(g: Graph, lin: SiteLinear, delta: Float64Array): void {
  if (lin.bias) {
    mapVector(g, lin.bias.node, lin.bias.input, (v, j) => v + delta[j]!, `${lin.bias.value.name}_shifted`);
    return;
  }
  const y = lin.node.outputs[0]!;
  const b = new Builder(g);
  const dtype = y.type.dtype as 'f32';
  const bias = b.constant(`${lin.weight.name}_shift_bias`, Tensor.from(dtype, [delta.length], delta));
  const idx = g.nodes.indexOf(lin.node);
  b.insertionPoint = g.nodes[idx + 1];
  const uses = g.useMap().get(y) ?? [];
  const outs = g.outputs.map((o) => o === y);
  const added = b.op('onnx.Add', [y, bias], {}, { out: `${y.name}_shifted` });
  for (const u of uses) u.inputs = u.inputs.map((v) => (v === y ? added : v));
  outs.forEach((isY, i) => { if (isY) g.outputs[i] = added; });
  lin.bias = { value: bias, node: added.producer!, input: 1 };
}

/**
 * Apply X' = (X − z) / s at a site: the producer absorbs it, the consumers' weights and biases
 * compensate. `z` may be omitted (scale only); `s` may be all ones (shift only).
 * Returns how it was absorbed (for reports): 'norm', 'affine', 'linear' or 'explicit'.
 */
export function migrateSite(site: MigrationSite, s: Float64Array, z?: Float64Array): Absorber['kind'] {
  const { graph: g, x, k } = site;
  if (s.length !== k || (z && z.length !== k)) fail('pass', `migration vectors of length ${s.length} for ${k} channels of '${x.name}'`);
  if (s.some((v) => !(v > 0) || !Number.isFinite(v))) fail('pass', `migration scales for '${x.name}' must be positive and finite`);
  // Earlier migrations may have replaced constants this site recorded (a site's absorbing
  // linear is often another site's consumer): read them again from the nodes.
  const linears = refreshSite(site);
  const nodes = [...linears.flatMap((l) => [l.node, ...(l.bias ? [l.bias.node] : [])]), ...absorberNodes(site.absorber)];
  const before = nodes.flatMap((n) => n.inputs.filter((v): v is Value => v !== null && v.isConst));
  try {
    return migrateFresh(site, s, z);
  } finally {
    // the constants the rewrite replaced go (unless something else still reads them)
    eraseDead(g, before);
  }
}

/**
 * Point a site's weight / bias references at the constants its nodes read now (an earlier
 * migration may have replaced them: a site's absorbing linear is often another site's
 * consumer). Returns the site's linears. `migrateSite` calls it; call it before reading weights.
 */
export function refreshSite(site: MigrationSite): SiteLinear[] {
  const linears = [...site.consumers, ...(site.absorber.kind === 'linear' ? [site.absorber.linear] : [])];
  for (const lin of linears) {
    lin.weight = lin.node.inputs[1]!;
    if (lin.bias) lin.bias.value = lin.bias.node.inputs[lin.bias.input]!;
  }
  return linears;
}

function absorberNodes(a: Absorber): Node[] {
  return a.kind === 'norm' ? [a.node] : a.kind === 'affine' ? [a.mul, ...(a.add ? [a.add] : [])] : [];
}

function migrateFresh(site: MigrationSite, s: Float64Array, z?: Float64Array): Absorber['kind'] {
  const { graph: g, x, k } = site;
  // consumers first: their bias update uses the unscaled weights
  for (const lin of site.consumers) {
    if (z) addToBias(g, lin, shiftTimesWeight(g, lin, z));
    scaleWeightRows(g, lin, s);
  }
  const zz = z ?? new Float64Array(k);
  const a = site.absorber;
  switch (a.kind) {
    case 'norm': {
      mapVector(g, a.node, 1, (v, j) => v / s[j]!, `${a.node.inputs[1]!.name}_migrated`);
      if (a.node.op === 'onnx.LayerNormalization' && a.node.inputs[2]) {
        mapVector(g, a.node, 2, (v, j) => (v - zz[j]!) / s[j]!, `${a.node.inputs[2]!.name}_migrated`);
      } else if (z && a.node.op === 'onnx.LayerNormalization') {
        const b = new Builder(g);
        const beta = b.constant(`${x.name}_beta`, Tensor.from(x.type.dtype as 'f32', [k], zz.map((v, j) => -v / s[j]!)));
        while (a.node.inputs.length < 3) a.node.inputs.push(null);
        a.node.inputs[2] = beta;
      } else if (z) {
        // RMSNormalization has no bias: the shift stays an explicit Sub
        return explicitShift(site, zz.map((v, j) => v / s[j]!), new Float64Array(k).fill(1)) && 'explicit';
      }
      return 'norm';
    }
    case 'affine': {
      mapVector(g, a.mul, a.gammaInput, (v, j) => v / s[j]!, `${a.mul.inputs[a.gammaInput]!.name}_migrated`);
      if (a.add) mapVector(g, a.add, a.betaInput!, (v, j) => (v - zz[j]!) / s[j]!, `${a.add.inputs[a.betaInput!]!.name}_migrated`);
      else if (z) return explicitShift(site, zz.map((v, j) => v / s[j]!), new Float64Array(k).fill(1)) && 'explicit';
      return 'affine';
    }
    case 'linear': {
      // the producer's output channel j = column j of [K', K] (or row j of transB [K, K'])
      const p = a.linear;
      const t = constantOf(g, p.weight)!;
      const [r, c] = t.shape as [number, number];
      const d = f64(t);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) d[i * c + j]! /= p.kAxis === 0 ? s[j]! : s[i]!;
      replaceConstant(g, p.node, 1, Tensor.from(t.dtype, [r, c], d), `${p.weight.name}_migrated`);
      if (p.bias) mapVector(g, p.bias.node, p.bias.input, (v, j) => (v - zz[j]!) / s[j]!, `${p.bias.value.name}_migrated`);
      else if (z) addToBias(g, p, zz.map((v, j) => -v / s[j]!));
      return 'linear';
    }
    case 'explicit':
      explicitShift(site, zz, s);
      return 'explicit';
  }
}

/** X' = (X − z) · (1/s) with explicit ops before the consumers (nothing could absorb it). */
function explicitShift(site: MigrationSite, z: Float64Array, s: Float64Array): true {
  const { graph: g, x, k } = site;
  const dtype = x.type.dtype as 'f32';
  const b = new Builder(g);
  const first = g.nodes.find((n) => site.consumers.some((c) => c.node === n))!;
  b.insertionPoint = first;
  let v = x;
  if (z.some((e) => e !== 0)) v = b.op('onnx.Sub', [v, b.constant(`${x.name}_shift`, Tensor.from(dtype, [k], z))], {}, { out: `${x.name}_centered` });
  if (s.some((e) => e !== 1)) v = b.op('onnx.Mul', [v, b.constant(`${x.name}_inv_scale`, Tensor.from(dtype, [k], s.map((e) => 1 / e)))], {}, { out: `${x.name}_smoothed` });
  for (const c of site.consumers) c.node.inputs[0] = v;
  return true;
}

/** Calibrate `values` of `g` (per-channel statistics along the last axis), optionally handing every computed value to `onValue`. */
function calibrateSites(g: Graph, values: readonly Value[], dataDir: string, maxSamples: number | undefined, onValue?: (v: Value, t: Tensor) => void): Map<Value, ChannelStats> {
  const plan: QuantPlan = {
    recipe: undefined as unknown as Recipe, weights: [], activations: [], skipped: [], notes: [],
    channels: values.map((value) => ({ value, axis: -1 })),
  };
  const cal = calibrate({ graph: g } as Parameters<typeof calibrate>[0], plan, dataDir, { maxSamples, onValue });
  const out = new Map<Value, ChannelStats>();
  for (const v of values) {
    const c = cal.tensors.get(v)?.channels;
    if (c) out.set(v, c);
  }
  return out;
}

/**
 * Per-channel statistics (max|X_j|, mean|X_j|, min_j, max_j along the last axis) of `values`
 * over a calibration directory, with the streaming calibrator.
 */
export function siteStats(g: Graph, values: readonly Value[], dataDir: string, maxSamples?: number): Map<Value, ChannelStats> {
  return calibrateSites(g, values, dataDir, maxSamples);
}

// ---- searching -------------------------------------------------------------------------------

/** Options of `siteData`: the sample rows the searches evaluate on. */
export interface SiteSampleOptions {
  maxSamples?: number;
  /** Rows kept per value (default 512). */
  maxRows?: number;
  /** Take every stride-th row (default 7), so the rows spread over the data. */
  stride?: number;
}

/**
 * One pass over the calibration data for a migration search: per-channel statistics of
 * `values` and up to `maxRows` rows [rows, K] of each (its last axis) — the samples the α /
 * threshold / scale searches evaluate the quantized layer error on. Rows holding a mask
 * sentinel (|x| ≥ 1e30) are skipped.
 */
export function siteData(g: Graph, values: readonly Value[], dataDir: string, opts: SiteSampleOptions = {}): { stats: Map<Value, ChannelStats>; samples: Map<Value, Tensor> } {
  const maxRows = opts.maxRows ?? 512;
  const stride = opts.stride ?? 7;
  const rows = new Map<Value, number[][]>(values.map((v) => [v, []]));
  const stats = calibrateSites(g, values, dataDir, opts.maxSamples, (v, t) => {
    const list = rows.get(v);
    if (!list) return;
    const k = t.shape[t.rank - 1]!;
    const d = t.data as ArrayLike<number>;
    const n = d.length / k;
    for (let r = 0; r < n && list.length < maxRows; r += stride) {
      const row = Array.from({ length: k }, (_, j) => d[r * k + j]!);
      if (row.every((x) => x < 1e30 && x > -1e30)) list.push(row);
    }
  });
  const samples = new Map<Value, Tensor>();
  for (const [v, list] of rows) {
    if (list.length === 0) continue;
    const k = list[0]!.length;
    samples.set(v, new Tensor('f32', [list.length, k], Float32Array.from(list.flat())));
  }
  return { stats, samples };
}

/**
 * ‖Q_a((X − z)/s) · Q_w(diag(s)·W) − X·W‖² / ‖X·W‖² for samples X [rows, K] and a weight
 * W [K, N] (kAxis 0) or [N, K] (kAxis 1): the relative error of one quantized linear layer after
 * migration. `act` null = float activations (weight-only); shift z optional.
 */
export function migratedLayerError(x: Tensor, w: Tensor, kAxis: number, s: Float64Array, z: Float64Array | undefined,
  act: QuantScheme | null, weight: QuantScheme): number {
  const [rows, k] = x.shape as [number, number];
  const { wkn, ref, sig } = floatLayer(x, w, kAxis);
  const n = wkn.length / k;
  // migrated, quantized weight [K, N]
  const ws = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) ws[i * n + j] = wkn[i * n + j]! * s[i]!;
  const wq = fakeQuant(new Tensor('f32', [k, n], ws), paramsForTensor(new Tensor('f32', [k, n], ws), { ...weight, axis: weight.granularity === 'group' ? 0 : 1 })).data as Float32Array;
  // migrated activations, quantized per tensor
  const X = x.data as Float32Array;
  const xm = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) for (let i = 0; i < k; i++) xm[r * k + i] = (X[r * k + i]! - (z ? z[i]! : 0)) / s[i]!;
  const xt = new Tensor('f32', [rows, k], xm);
  const xq = act ? fakeQuant(xt, paramsForTensor(xt, { ...act, granularity: 'tensor' })).data as Float32Array : xm;
  // shift compensation z·W goes to the bias in float: compare (Xq·Wq + z·W) with X·W
  const zw = new Float64Array(n);
  if (z) for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) zw[j]! += z[i]! * wkn[i * n + j]!;
  let err = 0;
  const got = new Float64Array(n);
  for (let r = 0; r < rows; r++) {
    got.set(zw);
    for (let i = 0; i < k; i++) {
      const a = xq[r * k + i]!;
      if (a === 0) continue;
      const row = i * n;
      for (let j = 0; j < n; j++) got[j]! += a * wq[row + j]!;
    }
    for (let j = 0; j < n; j++) err += (got[j]! - ref[r * n + j]!) ** 2;
  }
  return sig === 0 ? 0 : err / sig;
}

/** A consumer's weight as [K, N] in float64 (transposing Gemm transB's [N, K]). */
export function weightKN(w: Tensor, kAxis: number): Float64Array {
  const [r, c] = w.shape as [number, number];
  const W = w.data as ArrayLike<number>;
  if (kAxis === 0) return Float64Array.from(W);
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = W[i * c + j]!;
  return out;
}

/** A layer's weight as [K, N] and its float output X·W with Σ(X·W)², computed once per (samples, weight) pair. */
interface FloatLayer { wkn: Float32Array; ref: Float64Array; sig: number }
const floatLayers = new WeakMap<Tensor, WeakMap<Tensor, FloatLayer>>();

/**
 * The migration searches try tens of candidates per layer on the same samples and weight; the
 * float side of the error is the same for all of them.
 */
function floatLayer(x: Tensor, w: Tensor, kAxis: number): FloatLayer {
  let byW = floatLayers.get(x);
  if (!byW) floatLayers.set(x, byW = new WeakMap());
  const hit = byW.get(w);
  if (hit) return hit;
  const [rows, k] = x.shape as [number, number];
  const W = w.data as ArrayLike<number>;
  const n = w.shape[1 - kAxis]!;
  const wkn = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) wkn[i * n + j] = kAxis === 0 ? W[i * n + j]! : W[j * k + i]!;
  const X = x.data as Float32Array;
  const ref = new Float64Array(rows * n);
  let sig = 0;
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) {
      const a = X[r * k + i]!;
      if (a === 0) continue;
      for (let j = 0; j < n; j++) ref[r * n + j]! += a * wkn[i * n + j]!;
    }
    for (let j = 0; j < n; j++) sig += ref[r * n + j]! ** 2;
  }
  const layer = { wkn, ref, sig };
  byW.set(w, layer);
  return layer;
}

/** The w8a8 layout (int8 per-channel weights, uint8 per-tensor activations) the shift-and-scale passes measure in. */
const W8A8_WEIGHTS: QuantScheme = { format: 'int8', symmetric: true, granularity: 'channel', axis: 1 };
const W8A8_ACTS: QuantScheme = { format: 'uint8', symmetric: false, granularity: 'tensor' };

/** The summed relative w8a8 quantized-output error of a site's consumers for scale s and shift z. */
export function siteW8A8Error(site: MigrationSite, x: Tensor, s: Float64Array, z: Float64Array | undefined): number {
  let e = 0;
  for (const c of site.consumers) e += migratedLayerError(x, constantOf(site.graph, c.weight)!, c.kAxis, s, z, W8A8_ACTS, W8A8_WEIGHTS);
  return e;
}

/** Whether migrateSite needs an explicit Sub for a shift: the producer has no β (RMSNorm, a Mul by γ without an Add). */
function shiftNeedsSub(a: Absorber): boolean {
  return (a.kind === 'norm' && a.node.op === 'onnx.RMSNormalization') || (a.kind === 'affine' && !a.add);
}

/** Where a site's scale goes, for pass logs. */
function absorbedBy(site: MigrationSite): string {
  const a = site.absorber;
  const by = a.kind === 'norm' ? `absorbed by ${a.node.describe()}` : a.kind === 'affine' ? `absorbed by ${a.mul.describe()}`
    : a.kind === 'linear' ? `absorbed by ${a.linear.node.describe()}` : 'explicit Sub / Mul';
  return by + (site.through.length ? ` through ${site.through.map((n) => n.describe()).join(', ')}` : '');
}

/** One site as a shift-and-scale pass sees it. */
export interface ShiftScaleSite {
  site: MigrationSite;
  stats: ChannelStats;
  /** Sample rows of the site's activation [rows, K]. */
  rows: Tensor;
  /** Whether the site may be shifted (the option is on and the producer has a β, or explicit is set). */
  shift: boolean;
  /** ' (no shift: …)' when the option asked for a shift the producer cannot take, else ''. */
  note: string;
}

/** A pass's decision for one site: leave it (why, after "left as is, ") or migrate with s and z. */
export type ShiftScaleChoice =
  | { leave: string }
  | { s: Float64Array; z?: Float64Array; what: string; before: number; after: number };

const fmtError = (e: number): string => e.toExponential(2);

/**
 * The driver of the shift-and-scale passes (os-plus, outlier-tune): collect the sites a producer
 * absorbs (all of them with `explicit`), take their statistics and sample rows in one interpreter
 * pass, let `choose` decide each one, migrate, and log a line per site plus a summary. Sites go
 * downstream first: a linear that absorbs one site is a consumer of the site before it, and
 * scaling its weight rows afterwards (refreshSite) keeps both migrations exact.
 */
export function runShiftScale(g: Graph, calib: string, o: { explicit: boolean; shift: boolean; maxSamples?: number },
  log: (line: string) => void, trace: ((line: string) => void) | undefined, choose: (c: ShiftScaleSite) => ShiftScaleChoice): void {
  const sites: MigrationSite[] = [];
  const skipped: string[] = [];
  let notSites = 0;
  for (const site of findSites(g, (x, why) => { notSites++; trace?.(`%${x.name} is no site: ${why}`); })) {
    if (site.absorber.kind === 'explicit' && !o.explicit) {
      skipped.push(`%${site.x.name}: no producer absorbs a scale (${site.x.producer?.describe() ?? 'graph input'}; explicit=true inserts Sub / Mul)`);
      continue;
    }
    sites.push(site);
  }
  const { stats, samples } = siteData(g, sites.map((s) => s.x), calib, { maxSamples: o.maxSamples });
  let migrated = 0;
  let unchanged = 0;
  let sumBefore = 0;
  let sumAfter = 0;
  const lines = new Map<MigrationSite, string>();
  for (const site of [...sites].reverse()) {
    const st = stats.get(site.x);
    const rows = samples.get(site.x);
    const name = `%${site.x.name}`;
    if (!st || !rows) { skipped.push(`${name}: never computed on the calibration data`); continue; }
    refreshSite(site);
    const noSub = !o.explicit && shiftNeedsSub(site.absorber);
    const note = o.shift && noSub ? ' (no shift: the producer has no bias; explicit=true adds a Sub)' : '';
    const c = choose({ site, stats: st, rows, shift: o.shift && !noSub, note });
    const head = `${name} → ${site.consumers.map((l) => l.node.describe()).join(', ')}: `;
    if ('leave' in c) {
      lines.set(site, `${head}left as is, ${c.leave}`);
      unchanged++;
      continue;
    }
    const how = migrateSite(site, c.s, c.z);
    const sub = how === 'explicit' && site.absorber.kind !== 'explicit' ? ', shift by an explicit Sub' : '';
    lines.set(site, `${head}${c.what}, ${absorbedBy(site)}${sub}; error ${fmtError(c.before)} → ${fmtError(c.after)}${note}`);
    migrated++;
    sumBefore += c.before;
    sumAfter += c.after;
  }
  for (const site of sites) if (lines.has(site)) log(lines.get(site)!);
  for (const s of skipped) log(`skipped ${s}`);
  log(`${migrated} sites migrated, ${unchanged} left as is, ${skipped.length} skipped; ${notSites} other linear inputs are no sites (--trace lists them)`
    + (migrated ? `; summed consumer error ${fmtError(sumBefore)} → ${fmtError(sumAfter)}` : ''));
}

/** Run the interpreter over a data directory (the calibrator's loop and checks), handing every graph input and node output to `take`. */
export function forEachValue(g: Graph, dataDir: string, maxSamples: number | undefined, take: (v: Value, t: Tensor) => void): void {
  calibrateSites(g, [], dataDir, maxSamples, take);
}
