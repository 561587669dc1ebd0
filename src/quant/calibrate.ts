/**
 * @fileoverview Calibration: run the reference interpreter over a data directory and feed one
 * observer per static activation tensor of a QuantPlan, plus per-channel statistics of every
 * float input of a planned node (for the outlier passes). Streaming: one data set is read, run
 * and dropped at a time, and observers keep fixed-size state, so memory does not grow with the
 * number of samples. Every float graph input is checked for NaN/Inf, planned or not; planned
 * node outputs for NaN.
 */
import { listDataSets, readDataDir } from '../frontends/onnx/testdata.js';
import { isFloat } from '../ir/dtype.js';
import { LutraError, isLutraError } from '../ir/diagnostics.js';
import type { Model, Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { checkInputs, run } from '../interp/interpreter.js';
import { type ChannelStats, type Observer, SENTINEL_ABS, channelStats, createObserver, mergeChannelStats } from './observers.js';
import { formatInfo } from './quantizer.js';
import type { PlannedActivation, QuantPlan } from './recipe.js';
import { batchedInputs, takeSamples } from './samples.js';
import { accumulateXtX } from './weights.js';

/** Options of `calibrate`. */
export interface CalibrateOptions {
  /** Called after each data set with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Stop after this many samples (rows of the batch dimension), cutting the last batch. */
  maxSamples?: number;
  /** Also accumulate XᵀX (K×K, float64) of these activations over all tokens (GPTQ's statistic): value → K. */
  xtx?: ReadonlyMap<Value, number>;
  /** Also hand every graph input and node output, as it is computed, to this (passes that sample activations). */
  onValue?: (v: Value, t: Tensor) => void;
}

/** What calibration learned about one tensor. */
export interface TensorCalibration {
  value: Value;
  /** The range observer (static activations only). */
  observer?: Observer;
  /** Per-channel statistics along `channelAxis` (float inputs of planned nodes). */
  channels?: ChannelStats;
  channelAxis?: number;
  /** Σ xᵀx over all tokens, K×K row-major (requested with `CalibrateOptions.xtx`). */
  xtx?: Float64Array;
  /** Elements with |x| ≥ SENTINEL_ABS (±Inf included) seen over all samples; the ranges ignore them. */
  sentinels: number;
  /** Elements seen over all samples. */
  elements: number;
}

/** The result of `calibrate`: statistics by tensor, and how much data produced them. */
export interface Calibration {
  tensors: Map<Value, TensorCalibration>;
  dataSets: number;
  samples: number;
}

/** The data sets of a calibration directory, with errors that say it is the calibration data. */
function dataSetDirs(dir: string): { name: string; dir: string }[] {
  try {
    return listDataSets(dir);
  } catch (e) {
    if (isLutraError(e)) throw new LutraError(e.code, `calibration ${e.message.replace(`${dir}: `, '')}`, dir);
    throw e;
  }
}

/**
 * Count sentinels and reject NaN (and, in calibration inputs, ±Inf) naming the tensor and the
 * data set. ±Inf in a node output is a mask fill (`Where(mask, s, -inf)`): a sentinel, as the
 * observers treat it.
 */
function scan(t: Tensor, allowInf: boolean, what: () => string, setName: string, setDir: string): number {
  const d = t.data as Float32Array | Float64Array;
  let sentinels = 0;
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!;
    if (x < SENTINEL_ABS && x > -SENTINEL_ABS) continue;
    if (x !== x || (!allowInf && !Number.isFinite(x))) {
      throw new LutraError('input', `calibration data set ${setName || '(directory)'}: ${what()} contains ${x !== x ? 'NaN' : 'Inf'} (element ${i})`, setDir);
    }
    sentinels++;
  }
  return sentinels;
}

/** Calibrate `model` for `plan` on every data set in `dataDir` (ONNX test-data layout, .pb or .npy). */
export function calibrate(model: Model, plan: QuantPlan, dataDir: string, opts: CalibrateOptions = {}): Calibration {
  const g = model.graph;
  const sets = dataSetDirs(dataDir);
  const tensors = new Map<Value, TensorCalibration>();
  const entry = (v: Value): TensorCalibration => {
    let e = tensors.get(v);
    if (!e) tensors.set(v, (e = { value: v, sentinels: 0, elements: 0 }));
    return e;
  };
  for (const a of plan.activations) if (a.mode === 'static') entry(a.value).observer = createObserver(a.observer);
  for (const c of plan.channels) entry(c.value).channelAxis = c.axis;
  for (const [v, k] of opts.xtx ?? []) entry(v).xtx = new Float64Array(k * k);

  const batched = batchedInputs(g);
  let samples = 0;
  let done = 0;
  for (const set of sets) {
    const remaining = opts.maxSamples === undefined ? Infinity : opts.maxSamples - samples;
    if (remaining <= 0) break;
    let inputs = readDataDir(set.dir)[0]!.inputs;
    try {
      checkInputs(g, inputs);
    } catch (e) {
      if (isLutraError(e)) throw new LutraError(e.code, `calibration data set ${set.name || '(directory)'}: ${e.message}`, set.dir);
      throw e;
    }
    const taken = takeSamples(batched, inputs, remaining);
    inputs = taken.inputs;
    const n = taken.n;
    const observe = (v: Value, t: Tensor, isInput: boolean, what: () => string): void => {
      const e = tensors.get(v);
      if (!e) return;
      e.sentinels += scan(t, !isInput, what, set.name, set.dir);
      e.elements += t.size;
      e.observer?.observe(t);
      if (e.xtx) accumulateXtX(e.xtx, t, Math.round(Math.sqrt(e.xtx.length)));
      if (e.channelAxis !== undefined) {
        const axis = e.channelAxis < 0 ? e.channelAxis + t.rank : e.channelAxis;
        const s = channelStats(t, axis);
        e.channels = e.channels ? mergeChannelStats(e.channels, s) : s;
      }
    };
    g.inputs.forEach((v, i) => {
      const t = inputs[i]!;
      const what = () => `graph input '${v.name}'`;
      opts.onValue?.(v, t);
      if (tensors.has(v)) observe(v, t, true, what);
      else if (isFloat(t.dtype)) scan(t, false, what, set.name, set.dir);
    });
    run(g, inputs, {
      trusted: true,
      onNode: (node: Node, outs: readonly Tensor[]) => {
        node.outputs.forEach((v, j) => {
          const t = outs[j];
          if (!t) return;
          opts.onValue?.(v, t);
          observe(v, t, false, () => `output '${v.name}' of ${node.describe()}`);
        });
      },
    });
    samples += n;
    done++;
    opts.onProgress?.(done, sets.length);
  }
  return { tensors, dataSets: done, samples };
}

/** The calibrated [min, max] of a static activation, for its scheme's quantized range. */
export function activationRange(cal: Calibration, act: PlannedActivation): { min: number; max: number } {
  const obs = cal.tensors.get(act.value)?.observer;
  if (!obs) throw new Error(`internal error: activation '${act.value.name}' was not calibrated (mode ${act.mode})`);
  const { qmin, qmax } = formatInfo(act.scheme.format);
  return obs.range({ qmin, qmax, symmetric: act.scheme.symmetric });
}
