/**
 * @fileoverview `os-plus`: Outlier Suppression+ (techniques §4). At each migration site X (an
 * activation read only by linear layers), centre every channel and shrink the ones that still
 * stick out:
 *
 *   z_j = (max_j + min_j) / 2,   s_j = max(1, max|X_j − z_j| / t),   X̃ = (X − z) ⊘ s
 *
 * folded into the producer (LayerNorm γ' = γ ⊘ s, β' = (β − z) ⊘ s; see migrateSite) and undone
 * by the consumers (W' = diag(s)·W, b' = b + z·W). The threshold t is searched over candidates
 * taken from the shifted channel maxima, minimising the summed quantized-output error of the
 * consumers (w8a8: int8 per-channel symmetric weights, uint8 per-tensor activations), so that
 * the activation and weight quantizers share the burden; of near-ties the largest t wins.
 */
import { fail } from '../ir/diagnostics.js';
import type { Tensor } from '../ir/tensor.js';
import { type MigrationSite, runShiftScale, siteW8A8Error } from '../quant/migrate.js';
import { definePass, registerPass } from './manager.js';



/** Up to `grid` thresholds: the shifted channel maxima at ranks spaced geometrically from the largest (outliers are few). */
function thresholdCandidates(m: Float64Array, grid: number): number[] {
  const sorted = [...m].filter((v) => v > 0).sort((a, b) => b - a);
  if (sorted.length === 0) return [];
  const ranks = new Set<number>([0]);
  const n = Math.floor(grid);
  for (let i = 1; i < n; i++) ranks.add(Math.min(sorted.length - 1, Math.round(sorted.length ** (i / (n - 1))) - 1));
  return [...new Set([...ranks].sort((a, b) => a - b).map((r) => sorted[r]!))];
}


/**
 * Errors within this factor of the minimum count as ties. Below the outliers the error is flat
 * (the per-channel weight quantizer takes the scale for free) and its minimum is sampling noise;
 * the largest tied t scales the fewest channels (digits_vit: output SQNR 38.4 → 42.2 dB).
 */
const TIE = 1.05;

/** The largest threshold whose site error ties the minimum, with its s and error. */
function searchThreshold(site: MigrationSite, x: Tensor, m: Float64Array, z: Float64Array | undefined, grid: number):
{ t: number; s: Float64Array; error: number } | undefined {
  const tried = thresholdCandidates(m, grid).map((t) => {
    const s = m.map((v) => Math.max(1, v / t));
    return { t, s, error: siteW8A8Error(site, x, s, z) };
  });
  const min = Math.min(...tried.map((c) => c.error));
  return tried.find((c) => c.error <= min * TIE);
}

const fmt = (e: number): string => e.toExponential(2);

export const osPlus = definePass({
  name: 'os-plus',
  summary: 'Outlier Suppression+: per-channel shift and threshold-searched scale of linear-layer inputs, folded into the producing norm',
  description: `%y = LayerNormalization(%x, %γ, %β); %o = Add(MatMul(%y, %w), %b)
→ %y = LayerNormalization(%x, %γ_migrated = γ⊘s, %β_migrated = (β−z)⊘s); %o = Add(MatMul(%y, %w_migrated = diag(s)·w), %b_shifted = b + z·w),
with z_j = (max_j + min_j)/2 and s_j = max(1, max|X_j − z_j| / t), t searched to minimise the consumers' w8a8 output error.`,
  options: {
    calib: { type: 'string', default: '', doc: 'calibration data directory (default: the run\'s --calib)' },
    samples: { type: 'number', default: 0, doc: 'use at most this many calibration samples (0 = the run\'s, or all)' },
    grid: { type: 'number', default: 20, doc: 'number of threshold candidates t tried per site' },
    shift: { type: 'boolean', default: true, doc: 'centre each channel (z = (max + min)/2) before scaling' },
    explicit: { type: 'boolean', default: false, doc: 'give sites (and shifts) no producer can absorb an explicit Sub / Mul instead of skipping them' },
  },
  run(model, o, ctx) {
    const calib = o.calib || ctx.calib;
    if (!calib) fail('usage', 'os-plus measures activations: give calib=<dir>, or run it inside a recipe with --calib');
    if (!(o.grid >= 1)) fail('usage', `os-plus: grid must be at least 1, got ${o.grid}`);
    const maxSamples = o.samples > 0 ? o.samples : ctx.samples;
    runShiftScale(model.graph, calib, { explicit: o.explicit, shift: o.shift, maxSamples }, (line) => ctx.log(`os-plus: ${line}`), ctx.trace,
      ({ site, stats: st, rows: x, shift, note }) => {
        const z = shift ? st.max.map((mx, j) => (mx + st.min[j]!) / 2) : undefined;
        const m = z ? st.max.map((mx, j) => Math.max(mx - z[j]!, z[j]! - st.min[j]!)) : st.absMax;
        const before = siteW8A8Error(site, x, new Float64Array(site.k).fill(1), undefined);
        const best = searchThreshold(site, x, m, z, o.grid);
        if (!best || !(best.error < before)) return { leave: `no threshold beats the original (error ${fmt(before)})${note}` };
        const scaled = best.s.reduce((c, v) => c + (v > 1 ? 1 : 0), 0);
        return { s: best.s, z, before, after: best.error, what: `t = ${best.t.toPrecision(4)}, ${scaled} of ${site.k} channels scaled${z ? ', shifted' : ''}` };
      });
  },
});

registerPass(osPlus);
