/**
 * @fileoverview `lutra quantize`: a float model + a recipe + calibration data → a quantized QDQ
 * model (ONNX that ONNX Runtime runs, or text IR), checked against ONNX Runtime on the
 * calibration data, with an optional per-layer error report.
 */
import { statSync } from 'node:fs';
import { exportOnnx } from '../../frontends/onnx/export.js';
import { listDataSets, readDataDir } from '../../frontends/onnx/testdata.js';
import { LutraError } from '../../ir/diagnostics.js';
import type { Model } from '../../ir/graph.js';
import type { Tensor } from '../../ir/tensor.js';
import { run as interpret } from '../../interp/interpreter.js';
import { writeFileAtomic } from '../../io.js';
import { loadModel, modelFormat, saveModel } from '../../load.js';
import { openOrt } from '../../ort.js';
import { type QuantizeResult, needsCalibration, quantizeModel, runRecipePasses, weightBytes } from '../../quant/apply.js';
import { cloneModel } from '../../ir/clone.js';
import '../../passes/index.js';
import { OutputComparison } from '../../quant/metrics.js';
import { type BitWidthChoice, type SensitivityOptions, type SensitivityReport, chooseBitWidths, defaultCandidates, preparedLoader, recipeToJson, sensitivity } from '../../quant/mixed.js';
import { type Recipe, loadRecipe, planQuantization } from '../../quant/recipe.js';
import { type LayerReport, layerReport, withBaseline } from '../../quant/report.js';
import { renderReportHtml } from '../../quant/report-html.js';
import { type Args, type Command, type Io, flag, str } from '../command.js';
import { Progress, formatDuration } from '../progress.js';

/** A positive integer option, or a usage error naming it. */
function positiveInt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new LutraError('usage', `--${name} must be a positive integer, got '${v}'`);
  return n;
}

/** How the quantized model's outputs compare with the float model's, in the interpreter and in ORT. */
export interface QuantizeCheck {
  dataSet: string;
  /** Quantized model in the reference interpreter vs the float model. */
  ref: ReturnType<OutputComparison['result']>;
  /** Exported QDQ model in ONNX Runtime vs the float model, when ORT is installed. */
  ort?: ReturnType<OutputComparison['result']>;
  /** Quantized model, ORT vs the interpreter. */
  ortVsRef?: ReturnType<OutputComparison['result']>;
  ortNote?: string;
}

/** Run float and quantized models on the first calibration data set, in the interpreter and ORT. */
async function check(float: Model, quant: Model, onnx: Uint8Array, dir: string): Promise<QuantizeCheck> {
  const set = listDataSets(dir)[0]!;
  const inputs = readDataDir(set.dir)[0]!.inputs;
  const f = interpret(float.graph, inputs)[0]!;
  const q = interpret(quant.graph, inputs)[0]!;
  const cmp = (a: Tensor, b: Tensor) => { const c = new OutputComparison(); c.add(a, b); return c.result(); };
  const out: QuantizeCheck = { dataSet: set.name || '(directory)', ref: cmp(f, q) };
  const ort = await openOrt(onnx, 'the exported QDQ model');
  if (ort) {
    try {
      const o = (await ort.run(inputs))[0]!;
      out.ort = cmp(f, o);
      out.ortVsRef = cmp(q, o);
      out.ortNote = ort.note;
    } finally {
      await ort.release();
    }
  }
  return out;
}

const fmt = (x: number | null | undefined, digits = 4): string => (x === null || x === undefined ? '-' : !Number.isFinite(x) ? 'inf' : x.toFixed(digits));

function summary(r: QuantizeResult, before: number, after: number): string[] {
  const lines = [`recipe ${r.plan.recipe.name}: ${r.weights.length} weights, ${r.activations.length} activations quantized`
    + `${r.plan.skipped.length ? `, ${r.plan.skipped.length} nodes left in float` : ''}`];
  if (r.calibration) lines.push(`calibration: ${r.calibration.samples} samples in ${r.calibration.dataSets} data sets`);
  lines.push(`weights: ${(before / 1e6).toFixed(3)} MB → ${(after / 1e6).toFixed(3)} MB (${(before / Math.max(after, 1)).toFixed(2)}×)`);
  const worst = [...r.weights].sort((a, b) => a.sqnr - b.sqnr)[0];
  if (worst) lines.push(`lowest weight SQNR: ${fmt(worst.sqnr, 1)} dB (${worst.name})`);
  const sentinels = r.activations.reduce((n, a) => n + a.sentinels, 0);
  if (sentinels) lines.push(`mask sentinels ignored by calibration: ${sentinels} elements`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines;
}

/**
 * `--sensitivity` and `--size-budget`: measure layers alone, and choose per-layer formats
 * (src/quant/mixed.ts), on the model after the recipe's passes.
 */
async function mixedPrecision(args: Args, path: string, recipe: Recipe, calib: string | undefined, maxSamples: number | undefined,
  reportData: string | undefined, io: Io): Promise<{ sensitivity?: SensitivityReport; choice?: BitWidthChoice }> {
  const budget = str(args, 'size-budget');
  const wantSensitivity = flag(args, 'sensitivity');
  if (budget === undefined && !wantSensitivity) {
    for (const o of ['candidates', 'save-recipe', 'sensitivity-data', 'sensitivity-samples']) {
      if (str(args, o) !== undefined) throw new LutraError('usage', `--${o} goes with --size-budget or --sensitivity`);
    }
    return {};
  }
  const data = str(args, 'sensitivity-data') ?? reportData;
  if (data === undefined) throw new LutraError('usage', '--sensitivity and --size-budget measure on data: pass --calib or --sensitivity-data <dir>');
  const opts: SensitivityOptions = { calib, maxSamples, data, dataSamples: positiveInt(str(args, 'sensitivity-samples'), 'sensitivity-samples') };
  let p: Progress | undefined;
  opts.onProgress = (e) => { if (e.stage === 'measure') (p ??= new Progress(io, `measure ${e.recipe}`, e.total)).update(e.done); };
  // one run of each pass pipeline involved; every measurement quantizes a fresh copy of its result
  const loaders = new Map<string, Promise<() => Model>>();
  const loaderFor = (passes: string): Promise<() => Model> => {
    let l = loaders.get(passes);
    if (!l) loaders.set(passes, l = preparedLoader(loadModel(path), passes, { calib, maxSamples }));
    return l;
  };
  const out: { sensitivity?: SensitivityReport; choice?: BitWidthChoice } = {};
  const table = (r: SensitivityReport) => [
    `sensitivity of ${r.recipe} (each layer quantized alone; model-output SQNR on ${r.samples} samples, lowest first):`,
    ...r.layers.map((l) => `  ${l.layer.padEnd(36)} ${l.op.padEnd(14)} ${fmt(l.sqnr, 1).padStart(6)} dB  cosine ${fmt(l.cosine, 6)}`),
    `  all layers at once: ${fmt(r.all.sqnr, 1)} dB measured, ${fmt(r.predicted.sqnr, 1)} dB predicted from the sum of layer errors`,
  ];
  if (wantSensitivity) {
    out.sensitivity = sensitivity(await loaderFor(recipe.passes), recipe, opts);
    p?.finish();
    p = undefined;
    if (!flag(args, 'json')) io.stderr(`${table(out.sensitivity).join('\n')}\n`);
  }
  if (budget !== undefined) {
    const mb = Number(budget);
    if (!Number.isFinite(mb) || mb <= 0) throw new LutraError('usage', `--size-budget must be a positive number of MB, got '${budget}'`);
    const names = str(args, 'candidates');
    const candidates = names ? names.split(',').map((n) => loadRecipe(n.trim())) : defaultCandidates(recipe);
    out.choice = chooseBitWidths(await loaderFor(candidates[0]?.passes ?? ''), candidates, Math.floor(mb * 1e6), opts);
    p?.finish();
    const c = out.choice;
    const save = str(args, 'save-recipe');
    if (save !== undefined) writeFileAtomic(save, `${JSON.stringify(recipeToJson(c.recipe), null, 2)}\n`);
    if (!flag(args, 'json')) {
      io.stderr(`${[
        `size budget ${(c.budgetBytes / 1e6).toFixed(3)} MB: chose ${c.chosen.length} layers → ${(c.totalBytes / 1e6).toFixed(3)} MB of weights (float ${(c.floatBytes / 1e6).toFixed(3)} MB, smallest possible ${(c.minBytes / 1e6).toFixed(3)} MB), predicted output SQNR ${fmt(c.predictedError.sqnr, 1)} dB`,
        ...c.chosen.map((l) => `  ${l.layer.padEnd(36)} ${l.candidate.padEnd(16)} ${String(l.bits).padStart(2)}-bit  ${String(l.bytes).padStart(9)} B  alone ${fmt(l.sqnr, 1)} dB`),
        ...c.notes.map((n) => `  note: ${n}`),
        ...(save !== undefined ? [`  chosen recipe written to ${save}`] : []),
      ].join('\n')}\n`);
    }
  }
  return out;
}

export const quantize: Command = {
  name: 'quantize',
  summary: 'Quantize a model with a recipe and calibration data; write QDQ ONNX (or text IR).',
  args: ['model.onnx|.lir'],
  options: {
    recipe: { type: 'string', value: 'name|recipe.json', required: true, help: 'built-in recipe (w8a8, w8a8-smoothquant, w8a8-osplus, w8a8-outliertune, w8a8-llmint8, w8a8-dynamic, w8a16, w4a16, w4a16-awq, w4a8, w4a4-repq, w6a6, w6a6-repq, w3a16, w3a16-awq, fp8) or a recipe JSON file' },
    calib: { type: 'string', value: 'dir', help: 'calibration data: test_data_set_<n>/input_<i>.pb, input_<i>.pb or .npy (needed for static activations and GPTQ)' },
    output: { type: 'string', short: 'o', value: 'out.onnx|.lir', required: true, help: 'where the quantized model goes (written atomically)' },
    samples: { type: 'string', value: 'n', help: 'use at most n calibration samples (rows of the batch dimension)' },
    report: { type: 'string', value: 'r.json|r.html', help: 'write the per-layer error report (SQNR, cosine, ranges, histograms) as JSON or a self-contained HTML page' },
    'report-data': { type: 'string', value: 'dir', help: 'data the report runs on (default: the calibration data)' },
    'report-baseline': { type: 'string', value: 'name|recipe.json', help: 'also quantize with this recipe (e.g. the recipe without its outlier passes) and show its per-layer SQNR next to each layer' },
    sensitivity: { type: 'boolean', help: 'measure every planned layer quantized alone (model-output SQNR) and print them, most sensitive first' },
    'size-budget': { type: 'string', value: 'MB', help: 'choose per layer among --candidates so the weights take at most MB × 10⁶ bytes, then quantize with that choice' },
    candidates: { type: 'string', value: 'r1,r2,…', help: 'recipes --size-budget chooses from (default: the recipe and its int4 / int8 weight counterpart)' },
    'save-recipe': { type: 'string', value: 'file.json', help: 'write the recipe --size-budget chose, for reuse with --recipe' },
    'sensitivity-data': { type: 'string', value: 'dir', help: 'data --sensitivity / --size-budget measure on (default: --report-data, else --calib)' },
    'sensitivity-samples': { type: 'string', value: 'n', help: 'use at most n samples of it (each layer costs one model run over them)' },
    'skip-check': { type: 'boolean', help: 'do not compare the result with the float model on the first calibration data set' },
    json: { type: 'boolean', help: 'print the summary as JSON on stdout' },
  },
  details: `The recipe selects, per op type and node name, how weights and activations are quantized
(docs/recipes.md). Static activation ranges come from running the reference interpreter over
--calib; mask sentinels (|x| ≥ 1e30, e.g. Where(mask, s, -3.4e38)) are ignored and counted.
The result is in QDQ form: .onnx output is QuantizeLinear/DequantizeLinear around the float ops
(opset 21), which ONNX Runtime runs and fuses into integer kernels.

Unless --skip-check, the float model, the quantized model in the interpreter and the exported
model in ONNX Runtime (when onnxruntime-node is installed) run on the first calibration data set,
and the output cosine / SQNR / top-1 agreement are printed, saying which backend gave which.

Examples:
  lutra quantize model.onnx --recipe w8a8 --calib calib/ -o model.qdq.onnx
  lutra quantize model.onnx --recipe w4a16 -o model.w4.onnx
  lutra quantize model.onnx --recipe my-recipe.json --calib calib/ --samples 64 -o out.lir
  lutra quantize model.onnx --recipe w8a8 --calib calib/ --sensitivity -o model.qdq.onnx
  lutra quantize model.onnx --recipe w8a8 --calib calib/ --size-budget 0.4 --save-recipe chosen.json -o model.qdq.onnx`,
  async run(args, io) {
    const out = str(args, 'output')!;
    const format = modelFormat(out);
    let recipe = loadRecipe(str(args, 'recipe')!);
    const calib = str(args, 'calib');
    if (calib !== undefined) {
      let isDir = false;
      try { isDir = statSync(calib).isDirectory(); } catch { /* reported below */ }
      if (!isDir) throw new LutraError('io', 'calibration directory not found', calib);
    }
    const maxSamples = positiveInt(str(args, 'samples'), 'samples');
    const report = str(args, 'report');
    if (report !== undefined && !/\.(json|html)$/i.test(report)) throw new LutraError('usage', `--report writes .json or .html, not '${report}'`);
    const reportData = str(args, 'report-data') ?? calib;
    if (str(args, 'report-baseline') !== undefined && report === undefined) throw new LutraError('usage', '--report-baseline goes with --report');
    if (report !== undefined && reportData === undefined) throw new LutraError('usage', '--report needs data to run on: pass --calib or --report-data <dir>');
    const path = args.positionals[0]!;
    const mixed = await mixedPrecision(args, path, recipe, calib, maxSamples, reportData, io);
    if (mixed.choice) recipe = mixed.choice.recipe;
    const model = loadModel(path);
    const floatBytes = weightBytes(model);
    if (!calib && needsCalibration(planQuantization(model, recipe))) {
      throw new LutraError('usage', `recipe '${recipe.name}' quantizes activations statically (or uses GPTQ), which needs calibration data: pass --calib <dir>`);
    }
    const t0 = performance.now();
    let progress: Progress | undefined;
    const log = (line: string) => io.stderr(`${line}\n`);
    await runRecipePasses(model, recipe, { log, calib, maxSamples });
    // the report compares layers with the float model the passes made (same node names, exact in float)
    const migrated = report !== undefined ? cloneModel(model) : undefined;
    const result = quantizeModel(model, recipe, {
      calib,
      maxSamples,
      onProgress: (done, total) => { (progress ??= new Progress(io, 'calibrate', total)).update(done); },
    });
    progress?.finish();
    const ms = performance.now() - t0;
    const quantBytes = weightBytes(model);
    const onnx = exportOnnx(model); // also proves the model exports before anything is written
    // the float model the check and the report compare against: read once, never changed
    let float: Model | undefined;
    const reference = (): Model => (float ??= loadModel(path));
    const checked = !flag(args, 'skip-check') && calib ? await check(reference(), model, onnx, calib) : undefined;
    let layers: LayerReport | undefined;
    if (report !== undefined) {
      // one progress line per report run (the baseline's is a second one)
      const progress: { p?: Progress } = {};
      const opts = { maxSamples, onProgress: (done: number, total: number) => { (progress.p ??= new Progress(io, 'report', total)).update(done); } };
      const reportOn = (float: Model, m: Model, r: QuantizeResult): LayerReport => {
        const out = layerReport(float, m, r, reportData!, opts);
        progress.p?.finish();
        progress.p = undefined;
        return out;
      };
      layers = reportOn(migrated!, model, result);
      const baseline = str(args, 'report-baseline');
      if (baseline !== undefined) {
        const base = loadModel(path);
        const baseRecipe = loadRecipe(baseline);
        await runRecipePasses(base, baseRecipe, { calib, maxSamples });
        const baseFloat = cloneModel(base);
        layers = withBaseline(layers, reportOn(baseFloat, base, quantizeModel(base, baseRecipe, { calib, maxSamples })));
      }
    }
    if (format === '.onnx') writeFileAtomic(out, onnx);
    else saveModel(model, out);
    if (report !== undefined) writeFileAtomic(report, /\.html$/i.test(report) ? renderReportHtml(layers!) : `${JSON.stringify(layers, null, 2)}\n`);
    const peakMB = process.resourceUsage().maxRSS / 1024;

    if (flag(args, 'json')) {
      io.stdout(`${JSON.stringify({
        recipe: recipe.name,
        output: out,
        weights: result.weights.map((w) => ({ name: w.name, node: w.node.name, scheme: w.scheme, rounding: w.rounding, sqnr: Number.isFinite(w.sqnr) ? w.sqnr : null, bytesBefore: w.bytesBefore, bytesAfter: w.bytesAfter })),
        activations: result.activations.map((a) => ({ name: a.name, scheme: a.scheme, mode: a.mode, range: a.range, sentinels: a.sentinels, scale: a.params ? Array.from(a.params.scale) : undefined, zero: a.params ? Array.from(a.params.zero) : undefined })),
        skipped: result.plan.skipped.map((s) => ({ node: s.node.describe(), reason: s.reason })),
        notes: result.notes,
        weightBytes: { before: floatBytes, after: quantBytes },
        fileBytes: format === '.onnx' ? onnx.length : undefined,
        seconds: ms / 1000,
        peakRssMB: peakMB,
        check: checked,
        sensitivity: mixed.sensitivity,
        sizeBudget: mixed.choice && {
          budgetBytes: mixed.choice.budgetBytes, totalBytes: mixed.choice.totalBytes, minBytes: mixed.choice.minBytes, floatBytes: mixed.choice.floatBytes,
          predictedError: mixed.choice.predictedError, chosen: mixed.choice.chosen, notes: mixed.choice.notes,
        },
      }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      return 0;
    }
    const lines = summary(result, floatBytes, quantBytes);
    lines.push(`quantized in ${formatDuration(ms)} (${(ms / 1000).toFixed(2)} s), peak RSS ${peakMB.toFixed(0)} MB`);
    if (checked) {
      const row = (label: string, c: QuantizeCheck['ref']) => `  ${label.padEnd(28)} cosine ${fmt(c.cosine, 6)}  SQNR ${fmt(c.sqnrDb, 1)} dB  top-1 agreement ${fmt(c.agreement)}  max err ${fmt(c.maxAbsErr, 4)}`;
      lines.push(`check on calibration data set ${checked.dataSet} (output 0 vs the float model):`);
      lines.push(row('reference interpreter', checked.ref));
      if (checked.ort) lines.push(row('ONNX Runtime (exported)', checked.ort), row('ONNX Runtime vs interpreter', checked.ortVsRef!));
      else lines.push('  ONNX Runtime: not installed (onnxruntime-node), exported model not run');
      if (checked.ortNote) lines.push(`  note: ${checked.ortNote}`);
    }
    if (layers) {
      const w = layers.summary.worstLayer;
      lines.push(`report: ${layers.layers.length} layers${w ? `, worst ${w.name} at ${fmt(w.sqnr, 1)} dB` : ''}`
        + `${layers.baseline ? ` (baseline ${layers.baseline.recipe}: worst ${fmt(Math.min(...Object.values(layers.baseline.layers).map((v) => v ?? Infinity)), 1)} dB)` : ''} → ${report}`);
    }
    lines.push(`wrote ${out}`);
    io.stderr(`${lines.join('\n')}\n`);
    return 0;
  },
};
