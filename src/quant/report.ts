/**
 * @fileoverview Per-layer quantization error report (ONNX Runtime's qdq_loss_debug, for Lutra's
 * pipeline): run the float model and its QDQ rewrite (apply.ts) over a data directory and compare
 * tensors by value name —
 *
 *   activation N:  float N                 vs  quant N_dequantized (what the planned nodes read)
 *   layer L:       float output of L       vs  quant output of L (planned nodes keep their names)
 *   model output:  float output            vs  quant output, plus top-1 agreement
 *
 * Streaming: one data set at a time; the float run keeps only the compared tensors of that data
 * set until the quant run has consumed them, and the accumulators are fixed-size, so memory does
 * not grow with the number of data sets. Elements whose float value is a mask sentinel
 * (|x| ≥ SENTINEL_ABS) are counted and left out of every statistic. The result is plain JSON:
 * non-finite numbers become null (see ErrorStats); docs/report.md describes every field.
 */
import { listDataSets, readDataDir } from '../frontends/onnx/testdata.js';
import { isFloat } from '../ir/dtype.js';
import { LutraError, isLutraError } from '../ir/diagnostics.js';
import type { Graph, Model, Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { run } from '../interp/interpreter.js';
import type { QuantizeResult, QuantizedActivation } from './apply.js';
import { ErrorSums } from './metrics.js';
import { SENTINEL_ABS } from './observers.js';
import type { QuantScheme } from './quantizer.js';
import { nodeMatchName } from './recipe.js';
import { batchedInputs, takeSamples } from './samples.js';

/** Bins of every activation histogram. */
export const HISTOGRAM_BINS = 64;

/** Options of `layerReport`. */
export interface LayerReportOptions {
  /** Use at most this many samples (rows of the batch dimension), cutting the last batch. */
  maxSamples?: number;
  /** Called after each data set with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Quantized (test) values against float (reference) values. `sqnr` is 10·log10(Σref² / Σ(ref −
 * test)²) in dB; it is null when the values are identical (`exact`: true, SQNR +∞) or when it is
 * undefined (no compared elements, zero signal, or non-finite quantized values).
 */
export interface ErrorStats {
  sqnr: number | null;
  exact: boolean;
  /** Cosine similarity; 1 when exact, null when one side is all zeros. */
  cosine: number | null;
  /** max |ref − test|; null when a quantized value is not finite. */
  maxAbsError: number | null;
  /** Elements seen, sentinels included. */
  elements: number;
  /** Elements left out because the float value is a mask sentinel (|x| ≥ 1e30). */
  sentinels: number;
  /** Quantized values that are NaN or ±Inf where the float value is not a sentinel. */
  nonFinite: number;
}

/**
 * Float values of an activation in HISTOGRAM_BINS equal bins over [lo, hi]: the first data set's
 * extremes widened to include the calibrated range. Later values outside it are counted in the
 * edge bins and in `below` / `above`, so the counts sum to elements − sentinels.
 */
export interface Histogram {
  lo: number;
  hi: number;
  counts: number[];
  below: number;
  above: number;
}

/** One quantized activation tensor. */
export interface ActivationEntry {
  /** The float value's name. */
  name: string;
  /** The value the planned nodes read in the quantized model (`<name>_dequantized`). */
  dequantized: string;
  mode: 'static' | 'dynamic';
  scheme: QuantScheme;
  /** Static: the parameters (one per tensor, one per channel); null for dynamic. */
  scale: number[] | null;
  zero: number[] | null;
  /** Static: the calibrated clip range; null for dynamic. */
  range: { min: number; max: number } | null;
  /** Sentinels calibration ignored. */
  calibrationSentinels: number;
  /** Extremes of the float values on the report data (sentinels excluded); null when none. */
  observed: { min: number; max: number } | null;
  /** Float values outside `range` (static); 0 for dynamic. */
  clipped: number;
  histogram: Histogram | null;
  /** Names of the layers that read it. */
  consumers: string[];
  error: ErrorStats;
}

/** The record of one quantized weight of a layer. */
export interface WeightEntry {
  name: string;
  scheme: QuantScheme;
  rounding: string;
  bits: number;
  /** Weight SQNR in dB (null with `exact` when the weight is exactly representable). */
  sqnr: number | null;
  exact: boolean;
}

/** One planned node (a quantized layer). */
export interface LayerEntry {
  /** Node name, or its first output's name when unnamed (what recipe `names` match). */
  name: string;
  op: string;
  /** Position in the quantized graph. */
  index: number;
  /** The compared output value. */
  output: string;
  /** Quantized activations it reads. */
  inputs: string[];
  weights: WeightEntry[];
  error: ErrorStats;
}

/** One model output. */
export interface OutputEntry {
  name: string;
  error: ErrorStats;
  /** Fraction of rows whose argmax over the last axis agrees; null for non-float or last dim < 2. */
  top1: number | null;
  rows: number;
}

/** The whole report: JSON-serializable as is. */
export interface LayerReport {
  format: 'lutra-layer-report';
  version: 1;
  model: string;
  recipe: string;
  dataDir: string;
  dataSets: number;
  samples: number;
  histogramBins: number;
  activations: ActivationEntry[];
  layers: LayerEntry[];
  outputs: OutputEntry[];
  summary: {
    worstLayer: { name: string; sqnr: number } | null;
    worstActivation: { name: string; sqnr: number } | null;
    top1: number | null;
  };
  notes: string[];
  /**
   * The same layers under a baseline recipe (e.g. the recipe without its outlier passes), for
   * before/after comparison: SQNR by layer name (null: not finite or not quantized there).
   */
  baseline?: { recipe: string; layers: Record<string, number | null>; outputs: Record<string, number | null> };
}

/** Attach `base`'s layer and output SQNRs to `report` as its baseline (layers are matched by name). */
export function withBaseline(report: LayerReport, base: LayerReport): LayerReport {
  const sq = (e: ErrorStats): number | null => (e.exact ? null : e.sqnr);
  return {
    ...report,
    baseline: {
      recipe: base.recipe,
      layers: Object.fromEntries(base.layers.map((l) => [l.name, sq(l.error)])),
      outputs: Object.fromEntries(base.outputs.map((o) => [o.name, sq(o.error)])),
    },
  };
}

/** A finite number, else null (JSON has no Infinity / NaN). */
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** ErrorStats from error sums that skipped the reference's mask sentinels. */
function errorStats(e: ErrorSums): ErrorStats {
  const compared = e.elements - e.sentinels;
  const exact = compared > 0 && e.errSq === 0;
  const norm = Math.sqrt(e.refSq * e.testSq);
  return {
    sqnr: exact || e.refSq === 0 ? null : finite(10 * Math.log10(e.refSq / e.errSq)),
    exact,
    cosine: exact ? 1 : norm > 0 ? finite(e.dot / norm) : null,
    maxAbsError: e.nonFinite > 0 ? null : e.maxAbsErr,
    elements: e.elements,
    sentinels: e.sentinels,
    nonFinite: e.nonFinite,
  };
}

/** Fixed-range histogram of float values; the range is set by the first batch. */
class HistAcc {
  lo = 0;
  hi = 0;
  counts = new Float64Array(HISTOGRAM_BINS);
  below = 0;
  above = 0;
  started = false;
  min = Infinity;
  max = -Infinity;
  clipped = 0;

  constructor(readonly clip: { min: number; max: number } | undefined) {}

  add(d: ArrayLike<number>): void {
    let mn = Infinity;
    let mx = -Infinity;
    for (let i = 0; i < d.length; i++) {
      const x = d[i]!;
      if (x >= SENTINEL_ABS || x <= -SENTINEL_ABS) continue;
      if (x < mn) mn = x;
      if (x > mx) mx = x;
    }
    if (mn > mx) return;
    this.min = Math.min(this.min, mn);
    this.max = Math.max(this.max, mx);
    if (!this.started) {
      this.started = true;
      this.lo = Math.min(mn, this.clip?.min ?? mn);
      this.hi = Math.max(mx, this.clip?.max ?? mx);
      if (this.hi === this.lo) { this.lo -= 0.5; this.hi += 0.5; }
    }
    const { lo, hi, counts, clip } = this;
    const k = HISTOGRAM_BINS / (hi - lo);
    for (let i = 0; i < d.length; i++) {
      const x = d[i]!;
      if (x >= SENTINEL_ABS || x <= -SENTINEL_ABS) continue;
      if (x < lo) this.below++;
      else if (x > hi) this.above++;
      counts[Math.max(0, Math.min(HISTOGRAM_BINS - 1, Math.floor((x - lo) * k)))]++;
      if (clip && (x < clip.min || x > clip.max)) this.clipped++;
    }
  }

  result(): Histogram | null {
    if (!this.started) return null;
    return { lo: this.lo, hi: this.hi, counts: Array.from(this.counts), below: this.below, above: this.above };
  }
}

/** Rows agreeing on the argmax over the last axis. */
class Top1Acc {
  agree = 0;
  rows = 0;

  add(ref: Tensor, test: Tensor): void {
    const n = ref.shape[ref.rank - 1]!;
    const a = ref.data as ArrayLike<number>;
    const b = test.data as ArrayLike<number>;
    const argmax = (d: ArrayLike<number>, o: number): number => {
      let best = 0;
      for (let j = 1; j < n; j++) if (d[o + j]! > d[o + best]!) best = j;
      return best;
    };
    for (let o = 0; o < a.length; o += n, this.rows++) if (argmax(a, o) === argmax(b, o)) this.agree++;
  }
}

const DEQUANTIZE_OPS = new Set(['q.dequantize', 'onnx.DequantizeLinear']);

/** The dequantized value apply.ts made for `a`: the consumer input dequantizing a value named a.name. */
function dequantizedValue(a: QuantizedActivation): Value | undefined {
  for (const c of a.consumers) {
    for (const v of c.inputs) {
      const dq = v?.producer;
      if (!dq || !DEQUANTIZE_OPS.has(dq.op)) continue;
      if (dq.inputs[0]?.producer?.inputs[0]?.name === a.name) return v!;
    }
  }
  return undefined;
}

/** The first `n` rows of a tensor along axis 0. */

/** Run `g` and hand every graph input and node output whose name is in `names` to `take`. */
function runTaking(g: Graph, inputs: Tensor[], names: ReadonlySet<string>, take: (name: string, t: Tensor) => void, trusted: boolean): Tensor[] {
  g.inputs.forEach((v, i) => { if (names.has(v.name)) take(v.name, inputs[i]!); });
  return run(g, inputs, {
    trusted,
    onNode: (node: Node, outs: readonly Tensor[]) => {
      node.outputs.forEach((v, j) => {
        const t = outs[j];
        if (t && names.has(v.name)) take(v.name, t);
      });
    },
  });
}

/** One comparison: float value `ref` against quant value `test`. */
interface Probe {
  ref: string;
  test: string;
  acc: ErrorSums;
  top1?: Top1Acc;
}

/**
 * Compare `quantModel` (quantized from a copy of `floatModel` by quantizeModel, which gave
 * `result`) with `floatModel` on every data set in `dataDir`: per quantized activation, per
 * quantized layer and per model output. See the file overview and docs/report.md.
 */
export function layerReport(floatModel: Model, quantModel: Model, result: QuantizeResult, dataDir: string, opts: LayerReportOptions = {}): LayerReport {
  const fg = floatModel.graph;
  const qg = quantModel.graph;
  const notes: string[] = [];
  const probes: Probe[] = [];
  const probe = (ref: string, test: string, top1 = false): Probe => {
    const p: Probe = { ref, test, acc: new ErrorSums(true), ...(top1 ? { top1: new Top1Acc() } : {}) };
    probes.push(p);
    return p;
  };
  const layerName = (n: Node) => nodeMatchName(n);

  // ---- activations ----
  const hists = new Map<string, HistAcc>();
  const acts = result.activations.map((a) => {
    const dq = dequantizedValue(a);
    if (!dq) notes.push(`activation '${a.name}': no dequantized value found in the quantized model; not compared`);
    const p = probe(a.name, dq?.name ?? `${a.name}_dequantized`);
    if (!hists.has(a.name)) hists.set(a.name, new HistAcc(a.range));
    return { a, dq, p };
  });

  // ---- layers: planned nodes in graph order ----
  const planned = new Set<Node>([...result.plan.weights.map((w) => w.node), ...result.weights.map((w) => w.node), ...result.activations.flatMap((a) => a.consumers)]);
  const layerNodes = qg.nodes.filter((n) => planned.has(n));
  for (const n of planned) if (!layerNodes.includes(n)) notes.push(`${n.describe()}: planned but no longer in the quantized graph; not compared`);
  const layers = layerNodes.map((node) => {
    const out = node.outputs[0]!;
    const weights: WeightEntry[] = [];
    for (const pw of result.plan.weights.filter((w) => w.node === node)) {
      const key = JSON.stringify(pw.scheme);
      const w = result.weights.find((r) => r.name === pw.value.name && JSON.stringify(r.scheme) === key);
      if (!w) continue;
      weights.push({ name: w.name, scheme: w.scheme, rounding: w.rounding, bits: w.bits, sqnr: finite(w.sqnr), exact: w.sqnr === Infinity });
    }
    return {
      node, out, weights, p: probe(out.name, out.name),
      inputs: result.activations.filter((a) => a.consumers.includes(node)).map((a) => a.name),
    };
  });

  // ---- model outputs ----
  const outs = qg.outputs.map((v) => ({ v, p: probe(v.name, v.name, true) }));

  // what each run has to hand over
  const floatNames = new Set(probes.map((p) => p.ref));
  const testNames = new Map<string, Probe[]>();
  for (const p of probes) testNames.set(p.test, [...(testNames.get(p.test) ?? []), p]);
  const known = new Set([...fg.inputs.map((v) => v.name), ...fg.nodes.flatMap((n) => n.outputs.map((v) => v.name))]);
  for (const name of floatNames) if (!known.has(name)) notes.push(`value '${name}' is not in the float model; not compared`);

  const sets = listDataSets(dataDir);
  const batched = batchedInputs(fg);
  let samples = 0;
  let done = 0;
  const skipped = new Set<string>();
  const skip = (what: string) => { if (!skipped.has(what)) { skipped.add(what); notes.push(what); } };
  for (const set of sets) {
    const remaining = opts.maxSamples === undefined ? Infinity : opts.maxSamples - samples;
    if (remaining <= 0) break;
    let inputs = readDataDir(set.dir)[0]!.inputs;
    const taken = takeSamples(batched, inputs, remaining);
    inputs = taken.inputs;
    const n = taken.n;
    const ref = new Map<string, Tensor>();
    try {
      runTaking(fg, inputs, floatNames, (name, t) => {
        if (!isFloat(t.dtype)) return;
        ref.set(name, t);
        hists.get(name)?.add(t.data as ArrayLike<number>);
      }, false);
    } catch (e) {
      if (isLutraError(e) && e.code === 'input') throw new LutraError(e.code, `report data set ${set.name || '(directory)'}: ${e.message}`, set.dir);
      throw e;
    }
    runTaking(qg, inputs, new Set(testNames.keys()), (name, t) => {
      for (const p of testNames.get(name)!) {
        const r = ref.get(p.ref);
        if (!r) continue;
        if (!isFloat(t.dtype) || r.size !== t.size) {
          skip(`value '${p.test}': ${t.dtype}[${t.shape.join(',')}] in the quantized model, ${r.dtype}[${r.shape.join(',')}] in the float model; not compared`);
          continue;
        }
        p.acc.add(r.data as ArrayLike<number>, t.data as ArrayLike<number>);
        if (p.top1 && r.rank > 0 && r.shape[r.rank - 1]! > 1) p.top1.add(r, t);
      }
    }, true);
    samples += n;
    done++;
    opts.onProgress?.(done, sets.length);
  }

  const activations: ActivationEntry[] = acts.map(({ a, dq, p }) => {
    const h = hists.get(a.name)!;
    return {
      name: a.name,
      dequantized: dq?.name ?? '',
      mode: a.mode,
      scheme: a.scheme,
      scale: a.params ? Array.from(a.params.scale) : null,
      zero: a.params ? Array.from(a.params.zero) : null,
      range: a.range ? { min: a.range.min, max: a.range.max } : null,
      calibrationSentinels: a.sentinels,
      observed: h.started ? { min: h.min, max: h.max } : null,
      clipped: h.clipped,
      histogram: h.result(),
      consumers: a.consumers.map(layerName),
      error: errorStats(p.acc),
    };
  });
  const layerEntries: LayerEntry[] = layers.map(({ node, out, weights, p, inputs }) => ({
    name: layerName(node), op: node.op, index: qg.nodes.indexOf(node), output: out.name, inputs, weights, error: errorStats(p.acc),
  }));
  const outputs: OutputEntry[] = outs.map(({ v, p }) => ({
    name: v.name, error: errorStats(p.acc), top1: p.top1!.rows > 0 ? p.top1!.agree / p.top1!.rows : null, rows: p.top1!.rows,
  }));
  const worst = (es: { name: string; error: ErrorStats }[]) => es
    .filter((e) => e.error.sqnr !== null)
    .reduce<{ name: string; sqnr: number } | null>((w, e) => (w === null || e.error.sqnr! < w.sqnr ? { name: e.name, sqnr: e.error.sqnr! } : w), null);
  return {
    format: 'lutra-layer-report',
    version: 1,
    model: fg.name,
    recipe: result.plan.recipe.name,
    dataDir,
    dataSets: done,
    samples,
    histogramBins: HISTOGRAM_BINS,
    activations,
    layers: layerEntries,
    outputs,
    summary: { worstLayer: worst(layerEntries), worstActivation: worst(activations), top1: outputs.find((o) => o.top1 !== null)?.top1 ?? null },
    notes,
  };
}
