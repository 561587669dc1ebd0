/**
 * @fileoverview `repq-ln`: RepQ-ViT scale reparameterization of post-norm activations
 * (techniques §7). The output X of a LayerNormalization / RMSNormalization / decomposed norm
 * that only linear layers read is calibrated per channel, (s_j, z_j) for an asymmetric format,
 * and rewritten so that per-tensor quantization with s̃ = mean(s) (or the median, DopQ-ViT) and
 * z̃ = round(mean(z)) gives the same integers the per-channel quantizer gave:
 *
 *   r1 = s ⊘ s̃,  r2 = z − z̃;   γ' = γ ⊘ r1,  β' = (β + s ⊙ r2) ⊘ r1;   W' = diag(r1)·W,  b' = b − (s ⊙ r2)·W
 *
 * This is migrateSite (src/quant/migrate.ts) with scale r1 and shift −(s ⊙ r2); see `reparameterize`.
 */
import { fail } from '../ir/diagnostics.js';
import { roundHalfEven } from '../ir/dtype.js';
import type { Graph, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { type MigrationSite, findSites, forEachValue, migrateSite } from '../quant/migrate.js';
import { OBSERVER_KINDS, type Observer, type ObserverKind, createObserver } from '../quant/observers.js';
import { type QuantFormat, formatInfo, paramsFromRange } from '../quant/quantizer.js';
import { definePass, registerPass } from './manager.js';

/** The activation formats the pass calibrates for (asymmetric: each has a zero point to reparameterize). */
export const REPQ_FORMATS: readonly QuantFormat[] = ['uint8', 'int8', 'uint6', 'int6', 'uint4', 'int4'];

/** Per-channel parameters of one site and their per-tensor reparameterization. */
export interface RepqParams {
  /** Per-channel scales s (float32) and zero points z, as paramsFromRange gives them. */
  scale: Float32Array;
  zero: Int32Array;
  /** The per-tensor scale s̃ (a float32) and zero point z̃. */
  sTilde: number;
  zTilde: number;
  /** r1 = s ⊘ s̃ and r2 = z − z̃ (an integer per channel). */
  r1: Float64Array;
  r2: Float64Array;
  /** Channels whose range is empty or zero: left as they are (r1 = 1, r2 = 0) and out of the mean. */
  degenerate: number;
}

/** The middle of `v` (the mean of the two middle values for an even count). */
function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * (s, z) per channel from calibrated ranges, then s̃ = mean(s) (or median), z̃ = round(mean(z)),
 * r1 = s ⊘ s̃, r2 = z − z̃. A channel with a zero range (dead, or never observed) gets s = s̃,
 * z = z̃: its zeros quantize exactly either way. Undefined when every channel is degenerate.
 */
export function repqParams(min: ArrayLike<number>, max: ArrayLike<number>, format: QuantFormat, useMedian: boolean): RepqParams | undefined {
  const p = paramsFromRange(min, max, { format, symmetric: false, granularity: 'channel', axis: -1 });
  const k = p.scale.length;
  const live = Array.from({ length: k }, (_, j) => j).filter((j) => Math.max(max[j]!, 0) - Math.min(min[j]!, 0) > 0 && p.scale[j]! > 2 ** -126);
  if (live.length === 0) return undefined;
  const s = live.map((j) => p.scale[j]!);
  const sTilde = Math.fround(useMedian ? median(s) : s.reduce((a, b) => a + b, 0) / s.length);
  const { qmin, qmax } = formatInfo(format);
  const zTilde = Math.min(qmax, Math.max(qmin, roundHalfEven(live.reduce((a, j) => a + p.zero[j]!, 0) / live.length)));
  const alive = new Set(live);
  for (let j = 0; j < k; j++) if (!alive.has(j)) { p.scale[j] = sTilde; p.zero[j] = zTilde; }
  const r1 = Float64Array.from(p.scale, (v) => v / sTilde);
  const r2 = Float64Array.from(p.zero, (v) => v - zTilde);
  return { scale: p.scale, zero: p.zero, sTilde, zTilde, r1, r2, degenerate: k - live.length };
}

/**
 * Rewrite `site` so that its activation X becomes X' = X ⊘ r1 + s̃·r2.
 *
 * Why that is the right X': per channel, QuantizeLinear gives q_j = clamp(round(x_j / s_j) + z_j).
 * With x'_j = x_j / r1_j + s̃·r2_j and s̃·r1_j = s_j, x'_j / s̃ = x_j / s_j + r2_j; r2_j is an
 * integer, so round(x'_j / s̃) + z̃ = round(x_j / s_j) + r2_j + z̃ = round(x_j / s_j) + z_j, and the
 * clamp is to the same [qmin, qmax]: per-tensor (s̃, z̃) on X' gives the per-channel integers of X.
 * (Only float rounding of x'_j can move a value that sits on a .5 tie.)
 *
 * Why it is migrateSite(site, r1, −(s ⊙ r2)): migrateSite makes X' = (X − z_m) ⊘ s_m. Here
 * X' = X ⊘ r1 + s̃·r2 = (X + s̃·r1 ⊙ r2) ⊘ r1 = (X + s ⊙ r2) ⊘ r1, so s_m = r1, z_m = −(s ⊙ r2).
 * migrateSite then writes γ' = γ ⊘ s_m = γ ⊘ r1, β' = (β − z_m) ⊘ s_m = (β + s ⊙ r2) ⊘ r1,
 * W' = diag(s_m)·W = diag(r1)·W and b' = b + z_m·W = b − (s ⊙ r2)·W — RepQ-ViT's formulas; and
 * X'·W' + b' = (X + s⊙r2)·W + b − (s⊙r2)·W = X·W + b, so the float model is unchanged.
 */
export function reparameterize(site: MigrationSite, p: RepqParams): ReturnType<typeof migrateSite> {
  const shift = Float64Array.from(p.r2, (r, j) => -p.scale[j]! * r);
  return migrateSite(site, p.r1, shift.some((v) => v !== 0) ? shift : undefined);
}

/** Whether `v` is a normalized value (x − μ) / σ or x / rms: a Div by a Sqrt, or a Mul by a Reciprocal(Sqrt). */
function isNormalized(v: Value | null | undefined): boolean {
  const p = v?.producer;
  if (!p) return false;
  const isSqrt = (u: Value | null | undefined) => u?.producer?.op === 'onnx.Sqrt';
  if (p.op === 'onnx.Div') return isSqrt(p.inputs[1]);
  if (p.op === 'onnx.Mul') return p.inputs.some((u) => u?.producer?.op === 'onnx.Reciprocal' && isSqrt(u.producer.inputs[0]));
  return false;
}

/** The norm producing the site's activation (for the log), or undefined when its producer is not a norm. */
function normOf(site: MigrationSite): string | undefined {
  const a = site.absorber;
  if (a.kind === 'norm') return a.node.describe();
  if (a.kind === 'affine' && isNormalized(a.mul.inputs[1 - a.gammaInput])) return `decomposed norm ${a.mul.describe()}${a.add ? ` + ${a.add.describe()}` : ''}`;
  return undefined;
}

/**
 * Per-channel observers (one per channel of the last axis, of `kind`) of `values` over a
 * calibration directory: each channel's range is then the observer's per-tensor range for `format`.
 */
export function channelRanges(g: Graph, values: readonly Value[], dataDir: string, kind: ObserverKind, format: QuantFormat, maxSamples?: number):
Map<Value, { min: Float64Array; max: Float64Array }> {
  const observers = new Map<Value, Observer[]>(values.map((v) => [v, []]));
  const feed = (list: Observer[], t: Tensor): void => {
    const k = t.shape[t.rank - 1]!;
    const rows = k === 0 ? 0 : t.size / k;
    if (list.length === 0) for (let j = 0; j < k; j++) list.push(createObserver({ kind }));
    const d = t.data as ArrayLike<number>;
    for (let j = 0; j < k; j++) {
      const col = new Float32Array(rows);
      for (let r = 0; r < rows; r++) col[r] = d[r * k + j]!;
      list[j]!.observe(new Tensor('f32', [rows], col));
    }
  };
  forEachValue(g, dataDir, maxSamples, (v, t) => {
    const list = observers.get(v);
    if (list) feed(list, t);
  });
  const { qmin, qmax } = formatInfo(format);
  const out = new Map<Value, { min: Float64Array; max: Float64Array }>();
  for (const [v, list] of observers) {
    if (list.length === 0) continue;
    const ranges = list.map((o) => o.range({ qmin, qmax, symmetric: false }));
    out.set(v, { min: Float64Array.from(ranges, (r) => r.min), max: Float64Array.from(ranges, (r) => r.max) });
  }
  return out;
}

/** The sites `repq-ln` rewrites (their producer is a norm) and why other candidates are skipped. */
export function normSites(g: Graph): { sites: MigrationSite[]; skipped: string[] } {
  const skipped: string[] = [];
  const norms = new Set(['onnx.LayerNormalization', 'onnx.RMSNormalization']);
  const all = findSites(g, (x, why) => { if (x.producer && norms.has(x.producer.op)) skipped.push(`%${x.name}: ${why}`); });
  const sites = all.filter((s) => {
    if (s.x.type.dtype !== 'f32') { skipped.push(`%${s.x.name}: not f32`); return false; }
    if (normOf(s)) return true;
    skipped.push(`%${s.x.name}: produced by ${s.x.producer?.describe() ?? 'a graph input'}, not a norm`);
    return false;
  });
  return { sites, skipped };
}

const fmt = (x: number): string => x.toPrecision(3);

export const repqLn = definePass({
  name: 'repq-ln',
  summary: 'RepQ-ViT: calibrate post-norm activations per channel, then reparameterize them so per-tensor quantization (s̃, z̃) is exact',
  description: `A norm output X read only by linear layers → X ⊘ r1 + s̃·r2, compensated in their weights and biases.
Before: %x = onnx.LayerNormalization(%h, %gamma, %beta); %y = onnx.MatMul(%x, %w); %z = onnx.Add(%y, %b).
After: %x = onnx.LayerNormalization(%h, %gamma_migrated, %beta_migrated) (γ ⊘ r1, (β + s⊙r2) ⊘ r1);
%y = onnx.MatMul(%x, %w_migrated) (diag(r1)·W); %z = onnx.Add(%y, %b_shifted) (b − (s⊙r2)·W), with r1 = s ⊘ s̃, r2 = z − z̃
from per-channel (s, z). Also RMSNormalization (the shift becomes an explicit Sub: it has no β) and a decomposed norm's
Mul(γ) [+ Add(β)]. Sites with another producer are skipped and listed.`,
  options: {
    format: { type: 'string', default: 'uint8', doc: `activation format the per-channel and per-tensor parameters are for (${REPQ_FORMATS.join(', ')}; asymmetric)` },
    median: { type: 'boolean', default: false, doc: 's̃ = median of the per-channel scales (DopQ-ViT) instead of their mean' },
    observer: { type: 'string', default: 'minmax', doc: `per-channel range observer (${OBSERVER_KINDS.join(', ')})` },
    calib: { type: 'string', default: '', doc: "calibration data directory (default: the run's --calib)" },
    samples: { type: 'number', default: 0, doc: "use at most this many calibration samples (0 = the run's, or all)" },
  },
  run(model, o, ctx) {
    if (!REPQ_FORMATS.includes(o.format as QuantFormat)) fail('usage', `repq-ln: format must be one of ${REPQ_FORMATS.join(', ')}, got '${o.format}'`);
    if (!OBSERVER_KINDS.includes(o.observer as ObserverKind)) fail('usage', `repq-ln: observer must be one of ${OBSERVER_KINDS.join(', ')}, got '${o.observer}'`);
    const format = o.format as QuantFormat;
    const calib = o.calib || ctx.calib;
    if (!calib) fail('usage', 'repq-ln calibrates activations: give calib=<dir>, or run it inside a recipe with --calib');
    const g = model.graph;
    const { sites, skipped } = normSites(g);
    const ranges = channelRanges(g, sites.map((s) => s.x), calib, o.observer as ObserverKind, format, o.samples > 0 ? o.samples : ctx.samples);
    let done = 0;
    for (const site of sites) {
      const r = ranges.get(site.x);
      const p = r && repqParams(r.min, r.max, format, o.median);
      if (!p) { skipped.push(`%${site.x.name}: ${r ? 'every channel has a zero range' : 'never computed on the calibration data'}`); continue; }
      const norm = normOf(site)!;
      const kind = reparameterize(site, p);
      done++;
      const r1 = [...p.r1];
      const r2 = p.r2.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      ctx.log(`repq-ln: %${site.x.name} (${norm}${kind === 'explicit' ? ', shift as an explicit Sub' : ''}) → ${site.consumers.length} linear(s): `
        + `s̃ ${fmt(p.sTilde)}, z̃ ${p.zTilde}; r1 in [${fmt(Math.min(...r1))}, ${fmt(Math.max(...r1))}], |r2| ≤ ${r2}`
        + `${p.degenerate ? `; ${p.degenerate} zero-range channel(s) left as they are` : ''}`);
    }
    for (const line of skipped) ctx.log(`repq-ln: skipped ${line}`);
    ctx.log(`repq-ln: ${done} of ${sites.length} norm outputs reparameterized for per-tensor ${format}; ${skipped.length} skipped`);
  },
});

registerPass(repqLn);
