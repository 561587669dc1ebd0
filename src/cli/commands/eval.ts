/** @fileoverview `lutra eval`: measure a candidate (quantized) model against its float reference. */
import { type EvalBackend, type EvalMetric, type EvalReport, evalReportJson, evaluate as evaluateModels } from '../../quant/evaluate.js';
import { type Command, flag, str, usageError } from '../command.js';
import { Progress } from '../progress.js';
import { formatBytes } from './inspect.js';

const METRICS: readonly EvalMetric[] = ['acc', 'bpc'];
const BACKENDS: readonly (EvalBackend | 'both')[] = ['ref', 'ort', 'both'];
const METRIC_HEADER: Record<EvalMetric, string> = { acc: 'top-1 acc', bpc: 'bits/char' };

/** Fixed decimals; `inf`, `-inf`, `nan` for the rest. */
function fixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return x.toFixed(digits);
}

/** Three significant digits (errors span many magnitudes). */
const sig = (x: number): string => (x === 0 ? '0' : Number.isFinite(x) ? x.toPrecision(3) : fixed(x, 0));

const group = (n: number): string => n.toLocaleString('en-US');

/** `12 ms`, `8.48 s`. */
const seconds = (s: number): string => (s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`);

/** The table: one row per backend and model, then the output, sizes and notes. */
export function formatEvalReport(r: EvalReport): string {
  const header = ['backend', 'model', ...(r.metric ? [METRIC_HEADER[r.metric]] : []), 'agreement', 'cosine', 'SQNR dB', 'max err', 'rel err', 'time'];
  const rows: string[][] = [header];
  for (const b of r.backends) {
    const metric = (m: number | null) => (r.metric ? [fixed(m ?? NaN, 4)] : []);
    const c = b.comparison;
    rows.push([b.backend, 'reference', ...metric(b.reference.metric), '-', '-', '-', '-', '-', seconds(b.reference.seconds)]);
    rows.push([b.candidateBackend, 'candidate', ...metric(b.candidate.metric), fixed(c.agreement, 4), fixed(c.cosine, 6), fixed(c.sqnrDb, 1),
      sig(c.maxAbsErr), sig(c.maxAbsErrRel), seconds(b.candidate.seconds)]);
  }
  const widths = header.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
  const sets = `${r.dataSets} data set${r.dataSets === 1 ? '' : 's'}`;
  const lines = [
    ...table,
    '',
    `output   '${r.output.name}' (output ${r.output.index}), ${group(r.samples)} samples in ${sets}${r.labels ? `, labels ${r.labels}` : ''}`,
    `sizes    reference ${group(r.reference.bytes)} B (${formatBytes(r.reference.bytes)}), candidate ${group(r.candidate.bytes)} B (${formatBytes(r.candidate.bytes)}), candidate/reference ${r.sizeRatio.toFixed(3)}`,
    ...r.notes.map((n) => `note     ${n}`),
  ];
  return `${lines.join('\n')}\n`;
}

export const evaluate: Command = {
  name: 'eval',
  summary: 'Measure a quantized (candidate) model against its float reference: accuracy, agreement, SQNR.',
  args: ['reference.onnx|.lir', 'candidate.onnx|.lir|artifact-dir'],
  options: {
    data: { type: 'string', value: 'dir', required: true, help: 'data directory: input_<i>.pb|.npy, directly or in test_data_set_<n>/' },
    labels: { type: 'string', value: 'file', help: 'labels TensorProto: int [N] class ids (top-1 accuracy) or [N, T] token ids (bits per char)' },
    metric: { type: 'string', value: 'acc|bpc', help: 'force the task metric (default: from the label and output shapes)' },
    backend: { type: 'string', value: 'ref|ort|both', help: 'ref: reference interpreter; ort: ONNX Runtime; both (default; ref only when ORT is not installed). An artifact candidate always runs on wasm' },
    output: { type: 'string', value: 'name|index', help: 'the model output to measure (default 0)' },
    samples: { type: 'string', value: 'N', help: 'evaluate at most N samples (rows of the batch dimension)' },
    json: { type: 'boolean', help: 'print the report as JSON (inf/-inf/nan as strings)' },
  },
  details: `Both models run on the same inputs on each backend; every number is labelled with the backend
that produced it. Label rows are consumed in data-set order. Metrics: top-1 accuracy or bits per
char against the labels; the candidate's top-1 agreement with the reference, cosine similarity,
SQNR (10·log10(Σref²/Σ(ref−cand)²) dB), max abs error and max abs error / max |ref|.

The candidate may be an artifact directory written by 'lutra compile': it runs on its runtime
(wasm) and is compared with the reference run on each --backend; its inputs and outputs (names,
element types, non-batch dims) must match the reference's.

Examples:
  lutra eval model.onnx model.int8.onnx --data corpus/digits_mlp/eval --labels corpus/digits_mlp/eval/labels.pb
  lutra eval model.onnx model.int8.lir --data eval --backend ref --json > report.json
  lutra eval model.onnx out/mlp-w8a8 --data eval --labels eval/labels.pb`,
  async run(args, io) {
    const metric = str(args, 'metric');
    if (metric !== undefined && !(METRICS as readonly string[]).includes(metric)) throw usageError(this, `unknown metric '${metric}' (metrics: ${METRICS.join(', ')})`);
    if (metric !== undefined && str(args, 'labels') === undefined) throw usageError(this, `--metric ${metric} needs --labels <file>`);
    const backend = str(args, 'backend');
    if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend)) throw usageError(this, `unknown backend '${backend}' (backends: ${BACKENDS.join(', ')})`);
    const samples = str(args, 'samples');
    if (samples !== undefined && !/^[1-9]\d*$/.test(samples)) throw usageError(this, `--samples needs a positive integer, got '${samples}'`);
    let progress: Progress | undefined;
    const report = await evaluateModels(args.positionals[0]!, args.positionals[1]!, str(args, 'data')!, {
      labels: str(args, 'labels'),
      metric: metric as EvalMetric | undefined,
      backend: backend as EvalBackend | 'both' | undefined,
      output: str(args, 'output'),
      samples: samples === undefined ? undefined : Number(samples),
      onProgress: (done, total) => {
        progress ??= new Progress(io, 'eval', total);
        progress.update(done);
      },
    });
    progress?.finish();
    io.stdout(flag(args, 'json') ? `${evalReportJson(report)}\n` : formatEvalReport(report));
    return 0;
  },
};
