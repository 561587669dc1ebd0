/**
 * repq-ln: the reparameterized model computes the same function in float (1e-5), and on
 * digits_vit per-tensor quantization of each new norm output with (s̃, z̃) gives the integers
 * per-channel quantization of the old one with (s, z) gave, element for element.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '../../src/frontends/onnx/import.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor } from '../../src/ir/tensor.js';
import { run } from '../../src/interp/interpreter.js';
import { runPipeline } from '../../src/passes/index.js';
import { channelRanges, normSites, repqParams } from '../../src/passes/repq-ln.js';
import { type QuantParams, quantize } from '../../src/quant/quantizer.js';
import { firstRows } from '../../src/quant/samples.js';
import { CORPUS, HAS_SHARED } from '../helpers/shared.js';
import { corpusCase, expectEquivalent } from './equivalence.js';

const calibOf = (name: string) => join(CORPUS, name, name.startsWith('public/') ? 'data' : 'calib');

/** Norms whose γ the pass replaced (LayerNormalization / RMSNormalization, or a decomposed norm's Mul). */
const reparameterized = (g: Graph) => g.nodes.filter((n) => /Normalization$|^onnx\.Mul$/.test(n.op) && n.inputs.some((v) => v?.name.endsWith('_migrated'))).length;

describe.skipIf(!HAS_SHARED)('repq-ln', () => {
  it.each([
    // 8 block norms, and the final norm through the Gather that takes the CLS token
    ['digits_vit', 9, 0],
    ['digits_vit_outlier', 9, 0],
    // char_lm runs ~8 s per 32 sequences in the interpreter: 4 eval rows, 8 calibration samples
    ['char_lm', 9, 4],
    ['char_lm_outlier', 9, 4],
    // ln1 of each block feeds 24 bias-less per-head MatMuls: the shift gives each an Add
    ['public/chessgpt', 17, 0],
    // its norms are decomposed, but each output reaches its MatMuls through a Transpose: no site
    ['public/silero-vad-v3-micro', 0, 0],
  ])('%s: float outputs unchanged (1e-5); %i norm outputs reparameterized', async (name, sites, rows) => {
    const { model, inputs } = corpusCase(name);
    const cut = rows > 0 ? inputs.map((t, i) => (typeof model.graph.inputs[i]?.type.shape?.[0] === 'string' ? firstRows(t, rows) : t)) : inputs;
    const { before, after } = await expectEquivalent(model, `repq-ln{calib=${calibOf(name)},samples=${rows > 0 ? 8 : 16}}`, cut);
    expect(reparameterized(model.graph)).toBe(sites);
    // only constants change, except Adds that give a bias-less consumer its shifted bias
    for (const op of Object.keys({ ...before, ...after })) if (op !== 'onnx.Add') expect(after[op], op).toBe(before[op]);
  }, 120_000);

  it('digits_vit: per-tensor (s̃, z̃) on the new norm outputs gives the per-channel (s, z) integers of the old ones', async () => {
    const dir = join(CORPUS, 'digits_vit');
    const original = loadOnnx(join(dir, 'model.onnx'));
    const rewritten = loadOnnx(join(dir, 'model.onnx'));
    const { sites } = normSites(original.graph);
    const ranges = channelRanges(original.graph, sites.map((s) => s.x), join(dir, 'calib'), 'minmax', 'uint8');
    await runPipeline(rewritten, `repq-ln{calib=${join(dir, 'calib')}}`);

    const x = firstRows(corpusCase('digits_vit').inputs[0]!, 8);
    const capture = (g: Graph): Map<string, Tensor> => {
      const want = new Set(sites.map((s) => s.x.name));
      const out = new Map<string, Tensor>();
      run(g, [x], { onNode: (n, outs) => n.outputs.forEach((v, j) => { if (want.has(v.name)) out.set(v.name, outs[j]!); }) });
      return out;
    };
    const [old, now] = [capture(original.graph), capture(rewritten.graph)];
    let elements = 0;
    let differ = 0;
    let worst = 0;
    for (const site of sites) {
      const r = ranges.get(site.x)!;
      const p = repqParams(r.min, r.max, 'uint8', false)!;
      const perChannel: QuantParams = { scheme: { format: 'uint8', symmetric: false, granularity: 'channel', axis: -1 }, scale: p.scale, zero: p.zero, shape: [site.k] };
      const perTensor: QuantParams = { scheme: { format: 'uint8', symmetric: false, granularity: 'tensor' }, scale: Float32Array.of(p.sTilde), zero: Int32Array.of(p.zTilde), shape: [] };
      // equal integers ⇔ equal dequantized values up to the known affine map: s_j(q − z_j) = r1_j·(s̃(q' − z̃) − s̃·r2_j)
      const q = quantize(old.get(site.x.name)!, perChannel).toNumbers();
      const q2 = quantize(now.get(site.x.name)!, perTensor).toNumbers();
      q.forEach((v, i) => {
        elements++;
        if (v !== q2[i]) differ++;
        worst = Math.max(worst, Math.abs(v - q2[i]!));
      });
    }
    console.log(`repq-ln digits_vit: ${differ} of ${elements} codes differ (max ${worst} step) over ${sites.length} norm outputs`);
    expect(sites.length).toBe(9);
    expect(worst).toBeLessThanOrEqual(1);
    expect(differ / elements).toBeLessThan(1e-4);
  }, 120_000);
});
