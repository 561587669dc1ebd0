/**
 * @fileoverview Evaluate a candidate (quantized) model against its float reference on a data
 * directory, on the reference interpreter and/or ONNX Runtime: task metric against labels
 * (top-1 accuracy or bits per char), and how far the candidate's output is from the
 * reference's (metrics.ts). The candidate may also be an artifact directory written by
 * `lutra compile`: it then runs on its own runtime (backend `wasm`), once per data set, and is
 * compared with the reference on each reference backend. Streaming: one data set is read, run on every backend, folded into
 * the accumulators and dropped before the next. `lutra eval` prints the report; acceptance
 * scripts call `evaluate` directly.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { listDataSets, readDataDir, readTensor } from '../frontends/onnx/testdata.js';
import { exportOnnx } from '../frontends/onnx/export.js';
import { isFloat } from '../ir/dtype.js';
import { LutraError, isLutraError } from '../ir/diagnostics.js';
import type { Graph, Model, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { formatType, storageDType, tensorType } from '../ir/types.js';
import { checkInputs, run as interpret } from '../interp/interpreter.js';
import { loadModel, modelFormat } from '../load.js';
import { type OrtModel, loadOrt, openOrt } from '../ort.js';
import type { Manifest, ManifestIo } from '../runtime/executor.js';
import { type ArtifactRun, artifactRunner, isArtifact } from '../runtime/node-runner.js';
import { Accuracy, BitsPerChar, type ComparisonResult, OutputComparison } from './metrics.js';
import { batchedInputs, takeSamples } from './samples.js';

/** `acc`: top-1 accuracy against [N] labels; `bpc`: bits per char against [N, T] labels. */
export type EvalMetric = 'acc' | 'bpc';
/** Where the models run: `ref` the reference interpreter, `ort` onnxruntime-node. */
export type EvalBackend = 'ref' | 'ort';
/** Where the candidate runs: like the reference, or `wasm` for a compiled artifact directory (its runtime). */
export type CandidateBackend = EvalBackend | 'wasm';

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** Labels TensorProto (.pb) or .npy: int [N] class ids or [N, T] next-token ids, rows in data-set order. */
  labels?: string;
  /** Force the task metric; by default it follows the label and output shapes. Needs `labels`. */
  metric?: EvalMetric;
  /** `both` (default) runs ORT too when it is installed, and notes it when not. */
  backend?: EvalBackend | 'both';
  /** The output compared: an index or a graph-output name (default 0). */
  output?: number | string;
  /** Evaluate at most this many samples (rows of the batch dimension), cutting the last batch. */
  samples?: number;
  /** Called before the first data set (done = 0) and after each one. */
  onProgress?: (done: number, total: number) => void;
}

/** One model run on one backend. */
export interface ModelResult {
  /** The task metric (accuracy or bits per char); null without labels. */
  metric: number | null;
  /** Time spent running the model on this backend, all data sets (loading not included). */
  seconds: number;
}

/** Everything measured on one backend. */
export interface BackendReport {
  /** Where the reference ran. */
  backend: EvalBackend;
  /** Where the candidate ran: `backend`, or `wasm` for an artifact directory. */
  candidateBackend: CandidateBackend;
  reference: ModelResult;
  candidate: ModelResult;
  /** The candidate's output (on `candidateBackend`) against the reference's (on `backend`). */
  comparison: ComparisonResult;
}

/**
 * What `evaluate` measured. Plain data; its numbers may be ±Infinity (SQNR of identical
 * outputs) or NaN (a NaN output), which `evalReportJson` writes as "inf", "-inf", "nan".
 */
export interface EvalReport {
  reference: { path: string; bytes: number };
  /** An artifact's bytes are its manifest.json, model.wasm and weights.bin. */
  candidate: { path: string; bytes: number };
  /** candidate bytes / reference bytes. */
  sizeRatio: number;
  output: { index: number; name: string };
  metric: EvalMetric | null;
  labels: string | null;
  /** Samples (rows of the batch dimension) and data sets evaluated. */
  samples: number;
  dataSets: number;
  backends: BackendReport[];
  /** Things the reader should know, e.g. that ORT was not installed and only `ref` ran. */
  notes: string[];
}

/** The report as JSON, non-finite numbers as the strings "inf", "-inf" and "nan". */
export function evalReportJson(report: EvalReport): string {
  return JSON.stringify(report, (_, v: unknown) => {
    if (typeof v !== 'number' || Number.isFinite(v)) return v;
    return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  }, 2);
}

const shapeText = (s: readonly number[]): string => `[${s.join(',')}]`;
/** A graph input or output, or an artifact's (manifest) one. */
type IoSig = Pick<Value, 'name' | 'type'>;
const describeIo = (vs: readonly IoSig[]): string => vs.map((v) => `${v.name}: ${formatType(v.type)}`).join(', ');

/** Same input count, element types and ranks, and equal dims where both are numbers. */
function checkSignatures(ref: Graph, cand: Graph, candPath: string): void {
  const same = ref.inputs.length === cand.inputs.length && ref.inputs.every((a, i) => sameType(a, cand.inputs[i]!));
  if (!same) {
    throw new LutraError('input', `reference and candidate take different inputs: reference (${describeIo(ref.inputs)}), candidate (${describeIo(cand.inputs)})`, candPath);
  }
}

/** An artifact's inputs or outputs as typed values: the declared shape, with every symbolic dim but the batch bound to its compiled size. */
function artifactIo(man: Manifest, ios: readonly ManifestIo[]): IoSig[] {
  return ios.map((io) => ({
    name: io.name,
    type: tensorType(io.dtype, io.declaredShape.map((d, k) => ((man.batch && k === 0) || typeof d === 'number' ? d : io.shape[k]!))),
  }));
}

/** An artifact's inputs and outputs against the reference graph's: same names in order, element types, ranks and non-batch dims. */
function checkArtifactSignature(ref: Graph, man: Manifest, dir: string): void {
  for (const [kind, r, a] of [['inputs', ref.inputs, artifactIo(man, man.inputs)], ['outputs', ref.outputs, artifactIo(man, man.outputs)]] as const) {
    const same = r.length === a.length && r.every((v, i) => v.name === a[i]!.name && sameType(v, a[i]!));
    if (!same) throw new LutraError('input', `artifact and reference have different ${kind}: reference (${describeIo(r)}), artifact (${describeIo(a)})`, dir);
  }
}

function sameType(a: IoSig, b: IoSig): boolean {
  if (storageDType(a.type.dtype) !== storageDType(b.type.dtype)) return false;
  const s = a.type.shape;
  const t = b.type.shape;
  if (!s || !t) return true;
  return s.length === t.length && s.every((d, i) => typeof d !== 'number' || typeof t[i] !== 'number' || d === t[i]);
}

/** The compared output's index in both graphs, from `--output` (index or name). */
function resolveOutput(ref: { outputs: readonly IoSig[] }, cand: { outputs: readonly IoSig[] }, output: number | string, refPath: string, candPath: string): { ref: number; cand: number } {
  const list = (g: { outputs: readonly IoSig[] }) => `${g.outputs.length} output${g.outputs.length === 1 ? '' : 's'}: ${g.outputs.map((v) => v.name).join(', ')}`;
  if (typeof output === 'number' || /^\d+$/.test(output)) {
    const i = Number(output);
    for (const [g, path] of [[ref, refPath], [cand, candPath]] as const) {
      if (i >= g.outputs.length) throw new LutraError('usage', `output index ${i} is out of range: the model has ${list(g)}`, path);
    }
    return { ref: i, cand: i };
  }
  const r = ref.outputs.findIndex((v) => v.name === output);
  if (r < 0) throw new LutraError('usage', `no output named '${output}' (the model has ${list(ref)})`, refPath);
  const c = cand.outputs.findIndex((v) => v.name === output);
  if (c < 0) throw new LutraError('usage', `no output named '${output}' (the model has ${list(cand)})`, candPath);
  return { ref: r, cand: c };
}

/** The task metric for these labels and this output, or a diagnostic naming both shapes. */
function chooseMetric(forced: EvalMetric | undefined, labels: Tensor, out: Value, labelsPath: string): EvalMetric {
  const rank = out.type.shape?.length;
  const fits = (m: EvalMetric): boolean => (m === 'acc'
    ? rank === undefined || labels.rank === rank - 1
    : (rank === undefined || rank === 3) && labels.rank === 2);
  const shapes = `output '${out.name}' is ${formatType(out.type)} and labels are ${labels.dtype}${shapeText(labels.shape)}`;
  if (forced) {
    if (fits(forced)) return forced;
    const need = forced === 'acc' ? 'labels [N] for an [N, C] output' : 'labels [N, T] for an [N, T, V] output';
    throw new LutraError('input', `--metric ${forced} needs ${need}; ${shapes}`, labelsPath);
  }
  if (labels.rank === 1 && fits('acc')) return 'acc';
  if (labels.rank === 2 && fits('bpc')) return 'bpc';
  throw new LutraError('input', `labels fit no metric: acc needs labels [N] for an [N, C] output, bpc labels [N, T] for an [N, T, V] output; ${shapes}`, labelsPath);
}

/** Rows [start, start + n) of a tensor along axis 0. */
function rows(t: Tensor, start: number, n: number): Tensor {
  const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return new Tensor(t.dtype, [n, ...t.shape.slice(1)], t.data.slice(start * row, (start + n) * row));
}

/** A model on one backend: run it on a data set's inputs, all outputs in graph order. */
type Runner = (inputs: readonly Tensor[]) => Promise<Tensor[]>;

/** Open `model` (loaded from `path`) in ONNX Runtime: the file itself when it is ONNX, else its export. */
async function ortRunner(model: Model, path: string, opened: OrtModel[]): Promise<Runner> {
  const session = await openOrt(modelFormat(path) === '.onnx' ? path : exportOnnx(model), path);
  if (!session) throw new LutraError('unsupported', 'backend ort needs onnxruntime-node, which is not installed');
  opened.push(session);
  const names = model.graph.outputs.map((v) => v.name);
  const order = names.map((n, i) => (session.outputNames.includes(n) ? session.outputNames.indexOf(n) : i));
  return async (inputs) => {
    const outs = await session.run(inputs);
    return order.map((j) => outs[j]!);
  };
}

/** Rethrow a located-nowhere diagnostic at `where`, with `prefix` before its message. */
function locate<T>(where: string, prefix: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isLutraError(e) && e.location === undefined) throw new LutraError(e.code, `${prefix}${e.message}`, where);
    throw e;
  }
}

interface Meters {
  reference: Accuracy | BitsPerChar | undefined;
  candidate: Accuracy | BitsPerChar | undefined;
  comparison: OutputComparison;
  refSeconds: number;
  candSeconds: number;
}

/** Evaluate `candPath` against `refPath` on every data set of `dataDir` (ONNX test-data layout). */
export async function evaluate(refPath: string, candPath: string, dataDir: string, opts: EvaluateOptions = {}): Promise<EvalReport> {
  if (opts.samples !== undefined && !(Number.isInteger(opts.samples) && opts.samples > 0)) {
    throw new LutraError('usage', `samples must be a positive integer, got ${opts.samples}`);
  }
  if (opts.metric && !opts.labels) throw new LutraError('usage', `metric ${opts.metric} needs labels`);
  const refModel = loadModel(refPath);
  const ref = refModel.graph;
  // The candidate: a model file, or an artifact directory run on its runtime (wasm).
  let candModel: Model | undefined;
  let artifact: { manifest: Manifest; run: ArtifactRun } | undefined;
  if (isArtifact(candPath)) {
    artifact = await artifactRunner(candPath);
    checkArtifactSignature(ref, artifact.manifest, candPath);
  } else {
    if (existsSync(candPath) && statSync(candPath).isDirectory()) {
      throw new LutraError('io', 'is a directory without manifest.json: expected a .onnx or .lir file, or an artifact directory written by lutra compile', candPath);
    }
    candModel = loadModel(candPath);
    checkSignatures(ref, candModel.graph, candPath);
  }
  const cand = candModel ? candModel.graph : { outputs: artifactIo(artifact!.manifest, artifact!.manifest.outputs) };
  const out = resolveOutput(ref, cand, opts.output ?? 0, refPath, candPath);
  const refOut = ref.outputs[out.ref]!;
  const candOut = cand.outputs[out.cand]!;
  if (!sameType(refOut, candOut)) {
    throw new LutraError('input', `reference output '${refOut.name}' is ${formatType(refOut.type)} but candidate output '${candOut.name}' is ${formatType(candOut.type)}`, candPath);
  }
  const labels = opts.labels === undefined ? undefined : readTensor(opts.labels);
  if (labels && (isFloat(labels.dtype) || labels.dtype === 'bool' || labels.rank === 0)) {
    throw new LutraError('input', `labels must be integer class ids [N] or [N, T], got ${labels.dtype}${shapeText(labels.shape)}`, opts.labels);
  }
  const metric = labels ? chooseMetric(opts.metric, labels, refOut, opts.labels!) : undefined;
  const sets = listDataSets(dataDir);

  const notes: string[] = [];
  const want = opts.backend ?? 'both';
  const backends: EvalBackend[] = want === 'both' ? ['ref', 'ort'] : [want];
  if (backends.includes('ort') && !(await loadOrt())) {
    if (want === 'ort') throw new LutraError('unsupported', 'backend ort needs onnxruntime-node, which is not installed (npm install onnxruntime-node)');
    backends.pop();
    notes.push('onnxruntime-node is not installed: ran the reference interpreter (ref) only');
  }

  const opened: OrtModel[] = [];
  try {
    if (artifact) {
      notes.push(`the candidate is a compiled ${artifact.manifest.target} artifact: it ran on its runtime (wasm) once per data set; each wasm candidate row compares that output with the reference row above it`);
    }
    const runners = new Map<EvalBackend, { ref: Runner; cand: Runner | undefined }>();
    for (const b of backends) {
      const c = candModel;
      runners.set(b, b === 'ref'
        ? { ref: async (x) => interpret(ref, x, { trusted: true }), cand: c && (async (x) => interpret(c.graph, x, { trusted: true })) }
        : { ref: await ortRunner(refModel, refPath, opened), cand: c && await ortRunner(c, candPath, opened) });
    }
    let artifactSeconds = 0;
    const newMeter = () => (metric === 'acc' ? new Accuracy() : metric === 'bpc' ? new BitsPerChar() : undefined);
    const meters = new Map<EvalBackend, Meters>(backends.map((b) => [b, {
      reference: newMeter(), candidate: newMeter(), comparison: new OutputComparison(), refSeconds: 0, candSeconds: 0,
    }]));

    const batched = batchedInputs(ref);
    let samples = 0;
    let labelRow = 0;
    let done = 0;
    let cut = false;
    opts.onProgress?.(0, sets.length);
    for (const set of sets) {
      const remaining = opts.samples === undefined ? Infinity : opts.samples - samples;
      if (remaining <= 0) {
        cut = true;
        break;
      }
      const setName = set.name || '(directory)';
      let inputs = readDataDir(set.dir)[0]!.inputs;
      locate(set.dir, '', () => checkInputs(ref, inputs));
      if (candModel) locate(set.dir, 'candidate: ', () => checkInputs(candModel!.graph, inputs));
      const taken = takeSamples(batched, inputs, remaining);
      inputs = taken.inputs;
      const n = taken.n;
      if (taken.cut) cut = true;
      let batchLabels: Tensor | undefined;
      let artifactOut: Tensor | undefined;
      if (artifact) {
        const t = performance.now();
        artifactOut = (await artifact.run(inputs, set.dir)).outs[out.cand]!;
        artifactSeconds += (performance.now() - t) / 1000;
      }
      for (const b of backends) {
        const runner = runners.get(b)!;
        const m = meters.get(b)!;
        let t = performance.now();
        const r = (await runner.ref(inputs))[out.ref]!;
        m.refSeconds += (performance.now() - t) / 1000;
        t = performance.now();
        const c = artifactOut ?? (await runner.cand!(inputs))[out.cand]!;
        m.candSeconds += (performance.now() - t) / 1000;
        locate(set.dir, `${b}: output '${refOut.name}': `, () => m.comparison.add(r, c));
        if (!labels) continue;
        if (!batchLabels) {
          const need = r.rank === 0 ? 1 : r.shape[0]!;
          if (labelRow + need > labels.shape[0]!) {
            throw new LutraError('input', `${labels.shape[0]} label rows do not cover the data: data set ${setName} needs rows ${labelRow}..${labelRow + need - 1}`, opts.labels);
          }
          batchLabels = rows(labels, labelRow, need);
          labelRow += need;
        }
        const y = batchLabels;
        locate(opts.labels!, `data set ${setName}: `, () => {
          m.reference!.add(r, y);
          m.candidate!.add(c, y);
        });
      }
      samples += n;
      done++;
      opts.onProgress?.(done, sets.length);
    }
    if (labels && !cut && labelRow !== labels.shape[0]) {
      throw new LutraError('input', `${labels.shape[0]} label rows but the data has ${labelRow} rows (${samples} samples in ${done} data set${done === 1 ? '' : 's'})`, opts.labels);
    }

    const refBytes = statSync(refPath).size;
    const candBytes = artifact
      ? [join(candPath, 'manifest.json'), join(candPath, artifact.manifest.files.wasm), join(candPath, artifact.manifest.files.weights)].reduce((n, f) => n + statSync(f).size, 0)
      : statSync(candPath).size;
    return {
      reference: { path: refPath, bytes: refBytes },
      candidate: { path: candPath, bytes: candBytes },
      sizeRatio: candBytes / refBytes,
      output: { index: out.ref, name: refOut.name },
      metric: metric ?? null,
      labels: opts.labels ?? null,
      samples,
      dataSets: done,
      backends: backends.map((b) => {
        const m = meters.get(b)!;
        return {
          backend: b,
          candidateBackend: artifact ? 'wasm' as const : b,
          reference: { metric: m.reference?.result() ?? null, seconds: m.refSeconds },
          candidate: { metric: m.candidate?.result() ?? null, seconds: artifact ? artifactSeconds : m.candSeconds },
          comparison: m.comparison.result(),
        };
      }),
      notes,
    };
  } finally {
    for (const s of opened) await s.release();
  }
}
