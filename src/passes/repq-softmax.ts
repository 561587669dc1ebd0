/**
 * @fileoverview `repq-softmax`: RepQ-ViT's log√2 quantizer for post-Softmax attention
 * probabilities (techniques §7). Softmax outputs crowd near 0 with a few values near 1; a
 * uniform 4-bit grid rounds most of them to 0, a log√2 grid spends its levels on ratios:
 *
 *   q = round(−2·log2(A / s)),  Â = s · 2^(−⌊q/2⌋) · (q odd ? 1/√2 : 1),  Â = 0 where q ≥ 2^bits
 *
 * The pass inserts `q.log2_fake_quant` between each Softmax and the MatMuls that read it, with
 * s calibrated as the largest probability seen (or given). The quantize step leaves values
 * that are already quantized alone, so a recipe combines this with uniform quantization of
 * everything else. The op's ONNX expansion is the exact float emulation ORT runs.
 */
import { Builder } from '../ir/builder.js';
import { fail } from '../ir/diagnostics.js';
import type { Node, Value } from '../ir/graph.js';
import { siteStats } from '../quant/migrate.js';
import { definePass, registerPass } from './manager.js';

const SOFTMAX = new Set(['onnx.Softmax', 'fused.Softmax2D']);

export const repqSoftmax = definePass({
  name: 'repq-softmax',
  summary: 'log√2 quantization of post-Softmax attention probabilities read by MatMuls (RepQ-ViT)',
  description: `Before: %p = onnx.Softmax(%s); %o = onnx.MatMul(%p, %v).
After: %p_log2q = q.log2_fake_quant(%p) {scale = s, bits = 4}; %o = onnx.MatMul(%p_log2q, %v).`,
  options: {
    bits: { type: 'number', default: 4, doc: 'bits of the log√2 code (levels 0 … 2^bits − 1; the last level and beyond are 0)' },
    scale: { type: 'number', default: 0, doc: 's, the largest representable probability (0 = calibrate: the largest probability seen)' },
    calib: { type: 'string', default: '', doc: 'calibration data (default: the run\'s --calib); not needed with scale > 0' },
    samples: { type: 'number', default: 0, doc: 'at most this many calibration samples (0 = the run\'s, or all)' },
  },
  run(model, o, ctx) {
    const g = model.graph;
    const uses = g.useMap();
    const sites: { sm: Node; p: Value; readers: Node[] }[] = [];
    for (const sm of g.nodes) {
      if (!SOFTMAX.has(sm.op)) continue;
      const p = sm.outputs[0]!;
      const readers = (uses.get(p) ?? []).filter((u) => u.op === 'onnx.MatMul' && u.inputs[0] === p);
      if (readers.length > 0 && p.type.dtype === 'f32') sites.push({ sm, p, readers });
    }
    let scales = new Map<Value, number>();
    if (o.scale > 0) {
      scales = new Map(sites.map((s) => [s.p, o.scale]));
    } else if (sites.length > 0) {
      const calib = o.calib || ctx.calib;
      if (!calib) fail('usage', 'repq-softmax calibrates the scale: give calib=<dir> or scale=<s>, or run it inside a recipe with --calib');
      const stats = siteStats(g, sites.map((s) => s.p), calib, o.samples > 0 ? o.samples : ctx.samples);
      for (const s of sites) {
        const m = stats.get(s.p)?.absMax;
        scales.set(s.p, m && m.length ? Math.max(...m) || 1 : 1);
      }
    }
    for (const { sm, p, readers } of sites) {
      const b = new Builder(g);
      b.insertionPoint = g.nodes[g.nodes.indexOf(sm) + 1];
      const scale = Math.fround(scales.get(p)!);
      const q = b.op('q.log2_fake_quant', [p], { scale, bits: o.bits }, { out: `${p.name}_log2q` });
      for (const r of readers) r.inputs[0] = q;
      ctx.log(`repq-softmax: ${sm.describe()}: scale ${scale}, ${o.bits} bits, ${readers.length} MatMul reader(s)`);
    }
    ctx.log(`repq-softmax: ${sites.length} Softmax output(s) log√2-quantized`);
  },
});

registerPass(repqSoftmax);
