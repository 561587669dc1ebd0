/**
 * @fileoverview `smooth-quant`: SmoothQuant (techniques §3). Per input channel j of the linear
 * layers reading an activation X, `s_j = max|X_j|^α / max|W_j|^(1−α)`; the site becomes
 * `X' = X·diag(s)⁻¹`, `W' = diag(s)·W`, with diag(s)⁻¹ folded into the producer of X
 * (src/quant/migrate.ts). Linears sharing one X (Q, K, V after one LayerNorm) share one s, with
 * max|W_j| taken over all of them. `alpha=auto` searches α per site for the least quantized-output
 * error of its consumers on calibration samples. In float the model computes the same function.
 */
import { constantOf } from '../ir/builder.js';
import { fail } from '../ir/diagnostics.js';
import type { Tensor } from '../ir/tensor.js';
import { type MigrationSite, findSites, migrateSite, migratedLayerError, refreshSite, siteData, siteStats } from '../quant/migrate.js';
import { QUANT_FORMATS } from '../quant/recipe.js';
import { type QuantFormat, type QuantScheme, formatInfo } from '../quant/quantizer.js';
import { definePass, registerPass } from './manager.js';

/** Scales are kept in [1/MAX_SCALE, MAX_SCALE]: beyond that a channel is dead on one side, not an outlier. */
const MAX_SCALE = 1e5;

/** `alpha`: a number in [0, 1], or 'auto' (search). */
function parseAlpha(raw: string): number | 'auto' {
  if (raw.trim() === 'auto') return 'auto';
  const a = Number(raw);
  if (raw.trim() === '' || !(a >= 0 && a <= 1)) fail('usage', `smooth-quant: alpha must be a number in [0, 1] or 'auto', got '${raw}'`);
  return a;
}

function parseFormat(raw: string, option: string): QuantFormat {
  if (!(QUANT_FORMATS as readonly string[]).includes(raw)) fail('usage', `smooth-quant: ${option} must be one of ${QUANT_FORMATS.join(', ')}, got '${raw}'`);
  return raw as QuantFormat;
}

/** max_j |W_j,:| over every consumer of the site: the shared weight side of s. */
function weightRowMax(site: MigrationSite): Float64Array {
  const out = new Float64Array(site.k);
  for (const lin of site.consumers) {
    const t = constantOf(site.graph, lin.node.inputs[1]!)!;
    const [r, c] = t.shape as [number, number];
    const d = t.data as ArrayLike<number>;
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) {
      const kk = lin.kAxis === 0 ? i : j;
      out[kk] = Math.max(out[kk]!, Math.abs(d[i * c + j]!));
    }
  }
  return out;
}

/** s_j = max|X_j|^α / max|W_j|^(1−α), clamped to [1e-5, 1e5]; 1 where either side is zero. */
function smoothScales(xMax: ArrayLike<number>, wMax: ArrayLike<number>, alpha: number): Float64Array {
  return Float64Array.from({ length: xMax.length }, (_, j) => {
    const x = xMax[j]!;
    const w = wMax[j]!;
    if (!(x > 0) || !(w > 0) || !Number.isFinite(x) || !Number.isFinite(w)) return 1;
    const s = x ** alpha / w ** (1 - alpha);
    return Math.min(MAX_SCALE, Math.max(1 / MAX_SCALE, s));
  });
}

/** Σ over the site's consumers of the relative quantized-output error with scales s (migratedLayerError). */
function siteError(site: MigrationSite, x: Tensor, s: Float64Array, act: QuantScheme, weight: QuantScheme): number {
  let e = 0;
  for (const lin of site.consumers) e += migratedLayerError(x, constantOf(site.graph, lin.node.inputs[1]!)!, lin.kAxis, s, undefined, act, weight);
  return e;
}

/** The α of `grid` with the least summed consumer error, and the errors without migration and with it. */
function searchAlpha(site: MigrationSite, xMax: ArrayLike<number>, wMax: Float64Array, x: Tensor, grid: number[],
  act: QuantScheme, weight: QuantScheme): { alpha: number; before: number; after: number } {
  const before = siteError(site, x, new Float64Array(site.k).fill(1), act, weight);
  let best = { alpha: grid[0]!, before, after: Infinity };
  for (const alpha of grid) {
    const e = siteError(site, x, smoothScales(xMax, wMax, alpha), act, weight);
    if (e < best.after) best = { alpha, before, after: e };
  }
  return best;
}

/** Where the site's diag(s)⁻¹ goes, for the log. */
function absorberName(site: MigrationSite): string {
  const a = site.absorber;
  switch (a.kind) {
    case 'norm': return a.node.describe();
    case 'affine': return a.add ? `${a.mul.describe()} + ${a.add.describe()}` : a.mul.describe();
    case 'linear': return `output columns of ${a.linear.node.describe()}`;
    case 'explicit': return 'an explicit Mul';
  }
}

/** The consumers by name; long lists (chessgpt: 24 head projections) are cut after three. */
function consumerNames(site: MigrationSite): string {
  const names = site.consumers.map((c) => c.node.name || c.node.outputs[0]!.name);
  return names.length <= 4 ? names.join(', ') : `${names.length} linears (${names.slice(0, 3).join(', ')}, …)`;
}

export const smoothQuant = definePass({
  name: 'smooth-quant',
  summary: 'SmoothQuant: migrate activation outliers into the weights with per-channel scales s = max|X|^α / max|W|^(1−α)',
  description: `Before: %x = onnx.LayerNormalization(%h, %gamma, %beta); %q = onnx.MatMul(%x, %wq); %k = onnx.MatMul(%x, %wk).
After: %x = onnx.LayerNormalization(%h, %gamma_migrated, %beta_migrated) (γ/s, β/s);
%q = onnx.MatMul(%x, %wq_migrated); %k = onnx.MatMul(%x, %wk_migrated) (rows of W times s, one s shared).
Producers: LayerNormalization / RMSNormalization, a decomposed norm's Mul(γ) [+ Add(β)], a preceding linear's output
columns; otherwise an explicit Mul(x, 1/s) when explicit=true, else the site is skipped.`,
  options: {
    alpha: { type: 'string', default: '0.5', doc: "migration strength in [0, 1], or 'auto': per-site search for the least quantized-output error" },
    grid: { type: 'number', default: 0.05, doc: 'alpha=auto: step of the α grid over [0, 1]' },
    rows: { type: 'number', default: 256, doc: 'alpha=auto: calibration rows per site the error is measured on' },
    'weight-type': { type: 'string', default: 'int8', doc: 'alpha=auto: weight format the error assumes (per output channel, symmetric)' },
    'act-type': { type: 'string', default: 'uint8', doc: 'alpha=auto: activation format the error assumes (per tensor; asymmetric when unsigned)' },
    explicit: { type: 'boolean', default: false, doc: 'give sites no producer can absorb an explicit Mul (default: skip them and say so)' },
    calib: { type: 'string', default: '', doc: "calibration data directory (default: the run's --calib)" },
    samples: { type: 'number', default: 0, doc: "use at most this many calibration samples (0 = the run's, or all)" },
  },
  run(model, o, ctx) {
    const alpha = parseAlpha(o.alpha);
    const calib = o.calib || ctx.calib;
    if (!calib) fail('usage', 'smooth-quant measures activations: give calib=<dir>, or run it inside a recipe with --calib');
    if (alpha === 'auto' && !(o.grid > 0 && o.grid <= 1)) fail('usage', `smooth-quant: grid must be in (0, 1], got ${o.grid}`);
    const wFormat = parseFormat(o['weight-type'], 'weight-type');
    const aFormat = parseFormat(o['act-type'], 'act-type');
    const weight: QuantScheme = { format: wFormat, symmetric: true, granularity: 'channel' };
    const act: QuantScheme = { format: aFormat, symmetric: formatInfo(aFormat).qmin < 0, granularity: 'tensor' };
    const maxSamples = o.samples > 0 ? o.samples : ctx.samples;
    const g = model.graph;

    const skipped: string[] = [];
    let notSites = 0;
    const all = findSites(g, (x, why) => { notSites++; ctx.trace?.(`%${x.name} is not a site: ${why}`); });
    const sites = all.filter((s) => {
      if (s.absorber.kind !== 'explicit' || o.explicit) return true;
      skipped.push(`%${s.x.name}: no producer can absorb the scale (${s.x.producer?.describe() ?? 'a graph input'}; explicit=true inserts a Mul)`);
      return false;
    });
    // Downstream first: a site's absorbing linear is another site's consumer, and each search should see final weights.
    const order = new Map(g.nodes.map((n, i) => [n, i]));
    sites.sort((a, b) => (b.x.producer ? order.get(b.x.producer)! : -1) - (a.x.producer ? order.get(a.x.producer)! : -1));

    const values = sites.map((s) => s.x);
    // auto α needs sample rows too: one pass over the data gives both
    const { stats, samples } = alpha === 'auto'
      ? siteData(g, values, calib, { maxRows: o.rows, maxSamples })
      : { stats: siteStats(g, values, calib, maxSamples), samples: undefined };
    const grid = alpha === 'auto' ? Array.from({ length: Math.round(1 / o.grid) + 1 }, (_, i) => Math.min(1, i * o.grid)) : [];

    const kinds: Record<string, number> = {};
    for (const site of sites) {
      const st = stats.get(site.x);
      if (!st) { skipped.push(`%${site.x.name}: never computed on the calibration data`); continue; }
      refreshSite(site);
      const wMax = weightRowMax(site);
      let a = typeof alpha === 'number' ? alpha : 0.5;
      let errors = '';
      const x = samples?.get(site.x);
      if (alpha === 'auto' && x) {
        const r = searchAlpha(site, st.absMax, wMax, x, grid, act, weight);
        a = r.alpha;
        errors = `, layer error ${r.before.toExponential(2)} → ${r.after.toExponential(2)}`;
      } else if (alpha === 'auto') {
        errors = ', no sample rows to search α on: 0.5';
      }
      const s = smoothScales(st.absMax, wMax, a);
      const where = `${absorberName(site)}${site.through.length ? ` through ${site.through.map((n) => n.describe()).join(', ')}` : ''}`;
      const kind = migrateSite(site, s);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      const xMax = Math.max(...st.absMax);
      ctx.log(`smooth-quant: %${site.x.name} → ${consumerNames(site)}: α=${+a.toFixed(3)}, folded into ${where}`
        + ` (max|X| ${xMax.toPrecision(3)}, s in [${Math.min(...s).toPrecision(3)}, ${Math.max(...s).toPrecision(3)}]${errors})`);
    }
    for (const line of skipped) ctx.log(`smooth-quant: skipped ${line}`);
    const migrated = Object.values(kinds).reduce((n, c) => n + c, 0);
    const byKind = Object.entries(kinds).map(([k, c]) => `${c} ${k}`).join(', ');
    ctx.log(`smooth-quant: ${migrated} sites migrated${byKind ? ` (${byKind})` : ''}, ${kinds.explicit ?? 0} explicit Muls, ${skipped.length} skipped`
      + `${notSites ? `; ${notSites} other linear inputs are not sites (not read only by linears with constant weights; --trace lists them)` : ''}`);
  },
});

registerPass(smoothQuant);
