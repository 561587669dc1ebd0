/** Layer report: per-activation / per-layer / per-output error of a QDQ model against its float original, sentinels, JSON and HTML safety. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '../../../src/frontends/onnx/testdata.js';
import { Builder, Graph, Model, Tensor, tensorType } from '../../../src/ir/index.js';
import { loadModel } from '../../../src/load.js';
import { type QuantizeResult, quantizeModel } from '../../../src/quant/apply.js';
import { type Recipe, loadRecipe, validateRecipe } from '../../../src/quant/recipe.js';
import { type ActivationEntry, type ErrorStats, HISTOGRAM_BINS, type LayerReport, layerReport } from '../../../src/quant/report.js';
import { renderReportHtml } from '../../../src/quant/report-html.js';
import { CORPUS, HAS_SHARED } from '../../helpers/shared.js';

const MASK_FILL = -3.4028234663852886e38;

/** Quantize a fresh copy of a corpus model and report it on `data` ('calib' or 'eval'). */
function corpusReport(name: string, recipe: Recipe, data: string, maxSamples?: number): { report: LayerReport; result: QuantizeResult } {
  const dir = join(CORPUS, name);
  const float = loadModel(join(dir, 'model.onnx'));
  const quant = loadModel(join(dir, 'model.onnx'));
  const result = quantizeModel(quant, recipe, { calib: join(dir, 'calib'), maxSamples });
  return { report: layerReport(float, quant, result, join(dir, data), { maxSamples }), result };
}

const histogramTotal = (a: ActivationEntry) => a.histogram!.counts.reduce((s, c) => s + c, 0);

/** Finite SQNR above `db` and cosine above `cos`. */
function expectGood(e: ErrorStats, db: number, cos: number): void {
  expect(e.exact).toBe(false);
  expect(e.sqnr).not.toBeNull();
  expect(Number.isFinite(e.sqnr)).toBe(true);
  expect(e.sqnr!).toBeGreaterThan(db);
  expect(e.cosine!).toBeGreaterThan(cos);
  expect(e.nonFinite).toBe(0);
}

/** The report survives JSON unchanged: no Infinity, NaN, typed arrays or IR objects inside. */
function expectPlainJson(r: LayerReport): void {
  expect(JSON.parse(JSON.stringify(r))).toEqual(r);
}

/**
 * x[batch,4] → Where(mask [T,T,T,F], x, -3.4e38) → MatMul(w = I[4×3] with a zero last row); the
 * Where output is also a model output. Names are parameters so the HTML test can make them hostile.
 */
function maskModel(names = { graph: 'mask', where: 'scores', mm: 'mm' }): Model {
  const g = new Graph(names.graph);
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', ['batch', 4]));
  const mask = b.constant('mask', Tensor.from('bool', [1, 4], [1, 1, 1, 0]));
  const fill = b.constant('fill', Tensor.scalar('f32', MASK_FILL));
  const s = b.op('onnx.Where', [mask, x, fill], {}, { name: names.where, out: names.where });
  const w = b.constant('w', Tensor.from('f32', [4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]));
  b.output(s, b.op('onnx.MatMul', [s, w], {}, { name: names.mm, out: names.mm }));
  return new Model(g);
}

/** A flat .npy data directory with `rows` seeded rows of x in [-2, 2). */
function maskData(rows: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'lutra-report-'));
  const x = Array.from({ length: rows * 4 }, (_, i) => ((i * 7919) % 97) / 24.25 - 2);
  writeFileSync(join(dir, 'input_0.npy'), encodeNpy(Tensor.from('f32', [rows, 4], x)));
  return dir;
}

function maskReport(names?: Parameters<typeof maskModel>[0]): LayerReport {
  const dir = maskData(6);
  const quant = maskModel(names);
  const result = quantizeModel(quant, loadRecipe('w8a8'), { calib: dir });
  return layerReport(maskModel(names), quant, result, dir);
}

describe.skipIf(!HAS_SHARED)('layerReport on digits_mlp', () => {
  let report: LayerReport;
  let result: QuantizeResult;
  beforeAll(() => {
    ({ report, result } = corpusReport('digits_mlp', loadRecipe('w8a8'), 'eval'));
  });

  it('reports every quantized activation, every planned layer and the output, in graph order', () => {
    expect(report.activations.map((a) => a.name)).toEqual(result.activations.map((a) => a.name));
    expect(report.activations.every((a) => a.dequantized === `${a.name}_dequantized`)).toBe(true);
    expect(report.layers.map((l) => l.name)).toEqual(['/net/net.0/Gemm', '/net/net.2/Gemm', '/net/net.4/Gemm']);
    expect(report.layers.map((l) => l.index)).toEqual([...report.layers.map((l) => l.index)].sort((a, b) => a - b));
    expect(report.outputs.map((o) => o.name)).toEqual(['logits']);
    expect([report.dataSets, report.samples]).toEqual([1, 360]);
  });

  it('w8a8: every activation and layer has finite SQNR > 10 dB and cosine > 0.99', () => {
    for (const a of report.activations) expectGood(a.error, 10, 0.99);
    for (const l of report.layers) expectGood(l.error, 10, 0.99);
    expectGood(report.outputs[0]!.error, 10, 0.99);
    expect(report.outputs[0]!.rows).toBe(360);
    expect(report.outputs[0]!.top1!).toBeGreaterThan(0.95);
    expect(report.summary.worstLayer!.sqnr).toBe(Math.min(...report.layers.map((l) => l.error.sqnr!)));
  });

  it('histograms hold every non-sentinel float value and cover the calibrated range', () => {
    for (const a of report.activations) {
      const h = a.histogram!;
      expect(h.counts).toHaveLength(HISTOGRAM_BINS);
      expect(histogramTotal(a)).toBe(a.error.elements - a.error.sentinels);
      expect(a.error.elements).toBeGreaterThan(0);
      expect(h.lo).toBeLessThanOrEqual(Math.min(a.range!.min, a.observed!.min));
      expect(h.hi).toBeGreaterThanOrEqual(a.range!.max);
      expect(a.clipped).toBeGreaterThanOrEqual(0);
    }
    // the input (pixels in [0, 1]) is 360 samples × 64 features
    expect(report.activations[0]!.error.elements).toBe(360 * 64);
  });

  it('carries the scheme, parameters and weight SQNR of the quantization', () => {
    for (const a of report.activations) {
      expect(a.mode).toBe('static');
      expect(a.scheme).toMatchObject({ format: 'uint8', granularity: 'tensor', symmetric: false });
      expect(a.scale).toHaveLength(1);
      expect(a.zero).toHaveLength(1);
    }
    for (const l of report.layers) {
      expect(l.weights).toHaveLength(1);
      const w = result.weights.find((r) => r.node.name === l.name)!;
      expect(l.weights[0]).toMatchObject({ name: w.name, sqnr: w.sqnr, exact: false, bits: 8 });
      expect(l.inputs).toHaveLength(1);
    }
    expectPlainJson(report);
  });

  it('dynamic activations are compared through their DequantizeLinear output', () => {
    const dyn = corpusReport('digits_mlp', loadRecipe('w8a8-dynamic'), 'eval').report;
    expect(dyn.activations).toHaveLength(3);
    for (const a of dyn.activations) {
      expect(a.mode).toBe('dynamic');
      expect(a.dequantized).toBe(`${a.name}_dequantized`);
      expect([a.range, a.scale, a.zero]).toEqual([null, null, null]);
      expectGood(a.error, 10, 0.99);
      expect(histogramTotal(a)).toBe(a.error.elements);
    }
    for (const l of dyn.layers) expectGood(l.error, 10, 0.99);
    expectPlainJson(dyn);
  });

  it('maxSamples cuts the data and onProgress counts data sets', () => {
    const dir = join(CORPUS, 'digits_mlp');
    const float = loadModel(join(dir, 'model.onnx'));
    const quant = loadModel(join(dir, 'model.onnx'));
    const res = quantizeModel(quant, loadRecipe('w8a8'), { calib: join(dir, 'calib') });
    const progress: number[][] = [];
    const r = layerReport(float, quant, res, join(dir, 'calib'), { maxSamples: 12, onProgress: (d, t) => progress.push([d, t]) });
    expect([r.dataSets, r.samples]).toEqual([2, 12]);
    expect(progress).toEqual([[1, 8], [2, 8]]);
    expect(r.activations[0]!.error.elements).toBe(12 * 64);
  });
});

describe.skipIf(!HAS_SHARED)('layerReport on char_lm (4 samples)', () => {
  it('w8a8: every layer and activation compared, with finite SQNR; the masked Where output is not planned', () => {
    const { report, result } = corpusReport('char_lm', loadRecipe('w8a8'), 'eval', 4);
    expect(report.samples).toBe(4);
    expect(report.layers).toHaveLength(25);
    expect(report.activations).toHaveLength(result.activations.length);
    expect(report.activations.some((a) => /Where/.test(a.name))).toBe(false);
    for (const e of [...report.activations, ...report.layers, ...report.outputs]) expectGood(e.error, 10, 0.99);
    for (const a of report.activations) expect(histogramTotal(a)).toBe(a.error.elements - a.error.sentinels);
    expect(report.notes).toEqual([]);
    expectPlainJson(report);
  });

  it('with Softmax planned, the causal-mask sentinels of each Where output are counted and left out', () => {
    const recipe = validateRecipe({ name: 'w8a8-softmax', ops: ['MatMul', 'Softmax'] }, 'test');
    const { report } = corpusReport('char_lm', recipe, 'eval', 4);
    const wheres = report.activations.filter((a) => /attn\/Where_output_0$/.test(a.name));
    expect(wheres).toHaveLength(4);
    // 4 sequences × 4 heads × the 128·127/2 masked (future) positions of the 128×128 scores
    const masked = 4 * 4 * ((128 * 127) / 2);
    for (const a of wheres) {
      expect(a.calibrationSentinels).toBe(masked);
      expect([a.error.elements, a.error.sentinels]).toEqual([4 * 4 * 128 * 128, masked]);
      expect(histogramTotal(a)).toBe(a.error.elements - masked);
      expect(Math.max(-a.histogram!.lo, a.histogram!.hi)).toBeLessThan(1e3);
      expectGood(a.error, 10, 0.99);
    }
    expectPlainJson(report);
  });
});

describe('layerReport on a masked tiny model', () => {
  let report: LayerReport;
  beforeAll(() => {
    report = maskReport();
  });

  it('counts Where(mask, x, -3.4e38) sentinels and keeps them out of the histogram and the error', () => {
    const [a] = report.activations;
    expect(a!.name).toBe('scores');
    expect(a!.calibrationSentinels).toBe(6);
    expect([a!.error.elements, a!.error.sentinels]).toEqual([24, 6]);
    expect(histogramTotal(a!)).toBe(18);
    expect(a!.histogram!.lo).toBeGreaterThanOrEqual(-2);
    expect(a!.histogram!.hi).toBeLessThan(2);
    expectGood(a!.error, 30, 0.999);
    expect(a!.observed!.min).toBeGreaterThanOrEqual(-2);
  });

  it('leaves sentinels of a model output out, and reports an exact match as exact with null SQNR', () => {
    const scores = report.outputs.find((o) => o.name === 'scores')!;
    expect(scores.error).toMatchObject({ exact: true, sqnr: null, cosine: 1, maxAbsError: 0, elements: 24, sentinels: 6 });
    const [layer] = report.layers;
    expect(layer!.weights).toMatchObject([{ name: 'w', exact: true, sqnr: null }]);
    expectGood(layer!.error, 30, 0.999);
    expect(layer!.error.sentinels).toBe(0);
    expectPlainJson(report);
  });
});

describe('renderReportHtml', () => {
  const hostile = '</script><script>window.pwned=1</script><b title="x">&amp;/';

  it('embeds the report as JSON that parses back, and escapes every model-provided string', () => {
    const report = maskReport({ graph: `g${hostile}`, where: `s${hostile}`, mm: `m${hostile}` });
    expect(report.activations[0]!.name).toBe(`s${hostile}`);
    const html = renderReportHtml(report);
    expect(html).not.toContain(hostile);
    expect(html).not.toContain('window.pwned=1</script>');
    expect(html.match(/<script\b/g)).toHaveLength(2);
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    expect(html).toContain('<title>Quantization report: g&#60;/script&#62;&#60;script&#62;window.pwned=1');
    const json = /<script type="application\/json" id="report-data">([^<]*)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(json)).toEqual(report);
  });

  it('is self-contained: no external scripts, styles or URLs', () => {
    const html = renderReportHtml(maskReport());
    expect(html).not.toMatch(/\b(src|href)=/);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    expect(html).toContain("default-src 'none'");
  });
});
