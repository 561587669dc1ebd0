/**
 * @fileoverview `outlier-tune`: OutlierTune (techniques §6). Per-channel activation quantization
 * scales are "pre-executed" into the next layer's weight rows, after a symmetrising shift. At each
 * migration site X (an activation read only by linear layers, src/quant/migrate.ts):
 *
 *   z_j = (max_j + min_j) / 2,   a_j = max|X_j − z_j|,   ā = median (or mean, max) of the a_j > 0,
 *   s_j = a_j / ā  (s_j = 1 where a_j = 0),   X̃ = (X − z) ⊘ s
 *
 * folded into the producer (LayerNorm γ' = γ ⊘ s, β' = (β − z) ⊘ s) and undone by the consumers
 * (W' = diag(s)·W, b' = b + z·W) by migrateSite. Every live channel of X̃ spans [−ā, ā] on the
 * calibration data, so one per-tensor symmetric step Δ = ā / qmax on X̃ is the per-channel step
 * Δ_j = a_j / qmax on X − z: Δ·round(X̃_j / Δ)·s_j = Δ_j·round((X_j − z_j) / Δ_j). The per-channel
 * activation quantizer then costs nothing at run time; its price is paid by the weight quantizer,
 * which sees rows scaled by s. So per site the consumers' w8a8 quantized-output error is measured
 * before and after, and a site whose error would grow is left as is (unless force=true).
 */
import { fail } from '../ir/diagnostics.js';
import { runShiftScale, siteW8A8Error } from '../quant/migrate.js';
import type { ChannelStats } from '../quant/observers.js';
import { definePass, registerPass } from './manager.js';


/** How the per-tensor target amplitude ā is taken from the channel amplitudes. */
export type OutlierTuneTarget = 'median' | 'mean' | 'max';
const TARGETS: readonly OutlierTuneTarget[] = ['median', 'mean', 'max'];

/** One site's OutlierTune parameters. */
export interface OutlierTuneParams {
  /** Per-channel scale s_j = a_j / ā (1 for dead channels). */
  s: Float64Array;
  /** Per-channel shift z_j = (max_j + min_j) / 2; undefined without a shift. */
  z?: Float64Array;
  /** Channel amplitudes a_j = max|X_j − z_j|. */
  amplitude: Float64Array;
  /** The common amplitude ā of every live channel of X̃. */
  target: number;
  /** Channels with a_j = 0 (constant): they keep s_j = 1. */
  dead: number;
}

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** s, z and ā of a site from its per-channel statistics; undefined when every channel is constant. */
export function outlierTuneParams(st: Pick<ChannelStats, 'min' | 'max' | 'absMax'>, shift: boolean, target: OutlierTuneTarget): OutlierTuneParams | undefined {
  const z = shift ? st.max.map((mx, j) => (mx + st.min[j]!) / 2) : undefined;
  const amplitude = z ? st.max.map((mx, j) => Math.max(mx - z[j]!, z[j]! - st.min[j]!)) : Float64Array.from(st.absMax);
  const live = [...amplitude].filter((a) => a > 0 && Number.isFinite(a));
  if (live.length === 0) return undefined;
  const abar = target === 'max' ? Math.max(...live) : target === 'mean' ? live.reduce((a, b) => a + b, 0) / live.length : median(live);
  const s = amplitude.map((a) => (a > 0 && Number.isFinite(a) ? a / abar : 1));
  return { s, z, amplitude, target: abar, dead: amplitude.length - live.length };
}




const fmt = (e: number): string => e.toExponential(2);

export const outlierTune = definePass({
  name: 'outlier-tune',
  summary: 'OutlierTune: per-channel activation scales pre-executed into the next weight rows, after a symmetrising shift',
  description: `%y = LayerNormalization(%x, %γ, %β); %o = Add(MatMul(%y, %w), %b)
→ %y = LayerNormalization(%x, %γ_migrated = γ⊘s, %β_migrated = (β−z)⊘s); %o = Add(MatMul(%y, %w_migrated = diag(s)·w), %b_shifted = b + z·w),
with z_j = (max_j + min_j)/2 and s_j = max|X_j − z_j| / ā: every channel of the new %y spans [−ā, ā], so per-tensor
quantization of it is per-channel quantization of X − z. A site whose consumers' w8a8 error grows is left as is.`,
  options: {
    calib: { type: 'string', default: '', doc: 'calibration data directory (default: the run\'s --calib)' },
    samples: { type: 'number', default: 0, doc: 'use at most this many calibration samples (0 = the run\'s, or all)' },
    shift: { type: 'boolean', default: true, doc: 'centre each channel (z = (max + min)/2) before scaling' },
    target: { type: 'string', default: 'median', doc: 'the common amplitude ā of the channels: median, mean or max of the channel amplitudes' },
    explicit: { type: 'boolean', default: false, doc: 'give sites (and shifts) no producer can absorb an explicit Sub / Mul instead of skipping them' },
    force: { type: 'boolean', default: false, doc: 'migrate a site even when its consumers\' w8a8 error gets worse' },
  },
  run(model, o, ctx) {
    const calib = o.calib || ctx.calib;
    if (!calib) fail('usage', 'outlier-tune measures activations: give calib=<dir>, or run it inside a recipe with --calib');
    if (!(TARGETS as readonly string[]).includes(o.target)) fail('usage', `outlier-tune: target must be one of ${TARGETS.join(', ')}, got '${o.target}'`);
    const target = o.target as OutlierTuneTarget;
    const maxSamples = o.samples > 0 ? o.samples : ctx.samples;
    runShiftScale(model.graph, calib, { explicit: o.explicit, shift: o.shift, maxSamples }, (line) => ctx.log(`outlier-tune: ${line}`), ctx.trace,
      ({ site, stats: st, rows: x, shift, note }) => {
        const p = outlierTuneParams(st, shift, target);
        if (!p) return { leave: 'every channel is constant on the calibration data' };
        const before = siteW8A8Error(site, x, new Float64Array(site.k).fill(1), undefined);
        const after = siteW8A8Error(site, x, p.s, p.z);
        const what = `ā = ${p.target.toPrecision(4)} (${target}), s in [${Math.min(...p.s).toPrecision(3)}, ${Math.max(...p.s).toPrecision(3)}]`
          + `${p.dead ? `, ${p.dead} constant channel${p.dead > 1 ? 's' : ''} kept` : ''}${p.z ? ', shifted' : ''}`;
        if (!(after < before) && !o.force) return { leave: `migrating (${what}) would raise the error ${fmt(before)} → ${fmt(after)} (force=true migrates anyway)${note}` };
        return { s: p.s, z: p.z, before, after, what };
      });
  },
});

registerPass(outlierTune);
