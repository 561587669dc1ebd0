/**
 * @fileoverview `awq`: activation-aware weight-only scaling (techniques §5) for W4A16. Input
 * channels with a large mean |X_j| are the salient ones; scaling their weight rows up before
 * group-wise rounding gives them finer steps. Per migration site (src/quant/migrate.ts),
 *
 *   s = max(mean|X|, 1e-4)^α / √(max·min),   α ∈ {0, 1/grid, …, (grid−1)/grid}
 *
 * and the α is kept whose Σ_consumers ‖(X·diag(s)⁻¹)·Q(diag(s)·W) − X·W‖² on calibration rows
 * is least (Q = int4 asymmetric groups along K, round to nearest). α = 0 is s = 1, so the pass
 * never loses to RTN on this objective. diag(s)⁻¹ folds into the producer (LayerNorm γ/β,
 * decomposed norm, preceding linear), diag(s) into the consumers' weight rows; the float model
 * computes the same function. The per-group clip search is the quantize step's (`rounding: clip`,
 * recipe `w4a16-awq`).
 */
import { constantOf } from '../ir/builder.js';
import { assert, fail } from '../ir/diagnostics.js';
import type { Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { type MigrationSite, findSites, migrateSite, siteData, weightKN } from '../quant/migrate.js';
import { type QuantScheme, fakeQuant, paramsForTensor } from '../quant/quantizer.js';
import { eraseDead } from '../rewrite/erase.js';
import { definePass, registerPass } from './manager.js';

/** llm-awq's floor on mean |X_j| before the power, so dead channels get a finite scale. */
const MIN_MEAN = 1e-4;

/** s = max(absMean, 1e-4)^α, normalised by √(max s · min s) as llm-awq's auto_scale does. */
export function awqScales(absMean: ArrayLike<number>, alpha: number): Float64Array {
  const s = Float64Array.from(absMean, (m) => Math.max(m, MIN_MEAN) ** alpha);
  let lo = Infinity;
  let hi = 0;
  for (const v of s) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  const norm = Math.sqrt(hi * lo);
  return s.map((v) => v / norm);
}


/** out[rows, N] = X[rows, K] · W[K, N] in float64. */
function matmul(x: Float32Array, w: Float64Array, rows: number, k: number, n: number, out: Float64Array): void {
  out.fill(0);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    for (let i = 0; i < k; i++) {
      const v = x[r * k + i]!;
      if (v === 0) continue;
      const wi = i * n;
      for (let j = 0; j < n; j++) out[o + j] += v * w[wi + j]!;
    }
  }
}

/**
 * One consumer's part of the objective: s ↦ ‖(X·diag(s)⁻¹)·Q(diag(s)·W) − X·W‖², computed as
 * ‖X·(diag(s)⁻¹·Q(diag(s)·W)) − Y‖² with Y = X·W computed once. This is migratedLayerError
 * (weight-only, no shift) times ‖Y‖², without recomputing Y per candidate.
 */
function consumerError(x: Tensor, w: Tensor, kAxis: number, scheme: QuantScheme): { energy: number; error: (s: Float64Array) => number } {
  const [rows, k] = x.shape as [number, number];
  const X = x.data as Float32Array;
  const W = weightKN(w, kAxis);
  const n = W.length / k;
  const y = new Float64Array(rows * n);
  matmul(X, W, rows, k, n, y);
  let energy = 0;
  for (const v of y) energy += v * v;
  const got = new Float64Array(rows * n);
  const ws = new Tensor('f32', [k, n], new Float32Array(k * n));
  const groups: QuantScheme = { ...scheme, axis: 0 };
  return {
    energy,
    error(s) {
      const d = ws.data as Float32Array;
      for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) d[i * n + j] = W[i * n + j]! * s[i]!;
      const q = fakeQuant(ws, paramsForTensor(ws, groups)).data as Float32Array;
      const eff = new Float64Array(k * n);
      for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) eff[i * n + j] = q[i * n + j]! / s[i]!;
      matmul(X, eff, rows, k, n, got);
      let e = 0;
      for (let i = 0; i < got.length; i++) e += (got[i]! - y[i]!) ** 2;
      return e;
    },
  };
}

/** The chosen α and scales of a site, with the relative output errors of RTN (α = 0) and of the choice. */
export interface AwqChoice {
  alpha: number;
  s: Float64Array;
  rtnError: number;
  error: number;
}

/**
 * Grid search over α for one site on rows `x` [rows, K]: Σ_consumers ‖X'·Q(diag(s)·W) − X·W‖² /
 * Σ ‖X·W‖², float activations, Q = `scheme` groups along K. Ties keep the smaller α (α = 0, s = 1,
 * first), so the choice never loses to RTN.
 */
export function searchScales(site: MigrationSite, x: Tensor, absMean: ArrayLike<number>, scheme: QuantScheme, grid: number): AwqChoice {
  const layers = site.consumers.map((c) => consumerError(x, constantOf(site.graph, c.weight)!, c.kAxis, scheme));
  const total = layers.reduce((a, l) => a + l.energy, 0);
  const objective = (s: Float64Array): number => (total === 0 ? 0 : layers.reduce((a, l) => a + l.error(s), 0) / total);
  let best: AwqChoice | undefined;
  for (let i = 0; i < grid; i++) {
    const alpha = i / grid;
    const s = awqScales(absMean, alpha);
    const error = objective(s);
    if (!best) best = { alpha, s, rtnError: error, error };
    else if (error < best.error) best = { ...best, alpha, s, error };
  }
  return best!;
}

/** How migrateSite applied diag(s)⁻¹, for the log. */
const APPLIED: Readonly<Record<ReturnType<typeof migrateSite>, string>> = {
  norm: 'folded into the norm\'s γ/β',
  affine: 'folded into the decomposed norm\'s γ/β',
  linear: 'folded into the producing linear layer',
  explicit: 'applied by an explicit Mul',
};

/** The site of `x` as the graph stands now. */
function currentSite(g: MigrationSite['graph'], x: Value): MigrationSite {
  const site = findSites(g).find((s) => s.x === x);
  assert(site, `awq: '${x.name}' stopped being a migration site after an earlier site was migrated`);
  return site;
}

export const awq = definePass({
  name: 'awq',
  summary: 'AWQ: per-site input-channel scales s = mean|X|^α searched for least int4 group-quantized output error, folded into producer and weights',
  description: `Before: %n = onnx.LayerNormalization(%x, %gamma, %beta); %y = onnx.MatMul(%n, %w).
After: %n = onnx.LayerNormalization(%x, %gamma_migrated, %beta_migrated) (γ/s, β/s); %y = onnx.MatMul(%n, %w_migrated) (rows of w times s),
with s = mean|n|^α / √(max·min) and α from a grid in [0, 1) minimising the weight-only int4 output error on calibration rows.`,
  options: {
    calib: { type: 'string', default: '', doc: 'calibration data directory (default: the run\'s --calib)' },
    samples: { type: 'number', default: 0, doc: 'use at most this many calibration samples (0 = the run\'s, or all)' },
    group: { type: 'number', default: 128, doc: 'group size along K the search quantizes with (match the recipe\'s)' },
    format: { type: 'string', default: 'int4', doc: 'weight format the search quantizes with: int4 or int3 (match the recipe\'s)' },
    grid: { type: 'number', default: 20, doc: 'α candidates: 0, 1/grid, …, (grid−1)/grid' },
    explicit: { type: 'boolean', default: false, doc: 'also scale sites no producer can absorb, with an explicit float Mul (else skip them)' },
  },
  run(model, o, ctx) {
    const calib = o.calib || ctx.calib;
    if (!calib) fail('usage', 'awq measures activations: give calib=<dir>, or run it inside a recipe with --calib');
    if (!Number.isInteger(o.grid) || o.grid < 1) fail('usage', `awq: grid must be a positive integer, got ${o.grid}`);
    if (!Number.isInteger(o.group) || o.group < 1) fail('usage', `awq: group must be a positive integer, got ${o.group}`);
    const g = model.graph;
    if (o.format !== 'int4' && o.format !== 'int3') fail('usage', `awq: format must be int4 or int3, got '${o.format}'`);
    const scheme: QuantScheme = { format: o.format, symmetric: false, granularity: 'group', group: o.group };
    const all = findSites(g);
    const sites = all.filter((s) => o.explicit || s.absorber.kind !== 'explicit');
    for (const s of all) if (!sites.includes(s)) ctx.log(`awq: '${s.x.name}': skipped, no producer absorbs a scale (explicit=true inserts a Mul)`);
    const maxSamples = o.samples > 0 ? o.samples : ctx.samples;
    const xs = sites.map((s) => s.x);
    const { stats, samples: rows } = siteData(g, xs, calib, { maxSamples });
    // constants in use now that a migration replaces go at the end (their private copies stay)
    const uses = g.useMap();
    const used = g.constants.filter((v) => (uses.get(v)?.length ?? 0) > 0);
    let scaled = 0;
    let [rtnSum, awqSum] = [0, 0];
    for (const x of xs) {
      const absMean = stats.get(x)?.absMean;
      const sample = rows.get(x);
      if (!absMean || !sample) { ctx.log(`awq: '${x.name}': never computed on the calibration data; skipped`); continue; }
      // earlier migrations replace constants: find the site again so its weights are current
      const site = currentSite(g, x);
      const c = searchScales(site, sample, absMean, scheme, o.grid);
      rtnSum += c.rtnError;
      awqSum += c.error;
      let how = 'kept s = 1';
      if (c.alpha > 0) {
        how = APPLIED[migrateSite(site, c.s)];
        scaled++;
      }
      ctx.log(`awq: '${x.name}': α = ${c.alpha.toFixed(2)}, relative output error ${c.rtnError.toExponential(3)} (RTN) → ${c.error.toExponential(3)}; ${how}`);
    }
    eraseDead(g, used);
    const gain = awqSum > 0 ? ` (${(rtnSum / awqSum).toFixed(2)}× less)` : '';
    const errors = sites.length > 0 ? `; summed relative output error ${rtnSum.toExponential(3)} (RTN) → ${awqSum.toExponential(3)}${gain}` : '';
    ctx.log(`awq: ${scaled} of ${sites.length} sites scaled, ${all.length - sites.length} skipped${errors}`);
  },
});

registerPass(awq);
