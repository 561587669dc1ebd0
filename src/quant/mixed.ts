/**
 * @fileoverview Mixed precision (techniques §9): per-layer sensitivity, and a per-layer choice
 * among candidate recipes under a model-size budget.
 *
 * Sensitivity of a layer = the model-output error when only that layer is quantized. One
 * `quantizeModel` per recipe (so one calibration) produces every single-layer variant: the
 * planned nodes keep both their float and their quantized operands, and a layer is switched on
 * by pointing its nodes at the quantized ones. This equals quantizing a fresh model with
 * `layerOnlyRecipe` (calibration and weight rounding only read the float model) — a test pins it.
 *
 * The choice assumes the layers' output errors add (MSE of independent noise, §9): each layer's
 * options are cut to their Pareto frontier, and a greedy walk over the lower convex hulls in
 * order of error saved per byte (the Lagrangian solution) runs until the budget stops it; any
 * budget left is then filled greedily from the Pareto options. The result is an ordinary Recipe.
 */
import { listDataSets, readDataDir } from '../frontends/onnx/testdata.js';
import { LutraError, fail, isLutraError } from '../ir/diagnostics.js';
import { isFloat } from '../ir/dtype.js';
import type { Model, Node, Value } from '../ir/graph.js';
import { Tensor } from '../ir/tensor.js';
import { run } from '../interp/interpreter.js';
import { cloneModel } from '../ir/clone.js';
import { runPipeline } from '../passes/manager.js';
import { quantizeModel, weightBytes } from './apply.js';
import { batchedInputs, takeSamples } from './samples.js';
import { OutputComparison } from './metrics.js';
import { type ActivationSpec, type Recipe, type RecipeRule, type WeightSpec, nodeMatchName, resolveSpecs, validateRecipe } from './recipe.js';

/** Progress of a measurement: quantizing (and calibrating) a candidate, then one model run per layer. */
export interface MixedProgress {
  stage: 'quantize' | 'measure';
  recipe: string;
  done: number;
  total: number;
}

/** Options of `sensitivity` and `chooseBitWidths`. */
export interface SensitivityOptions {
  /** Calibration data directory (recipes with static activations or GPTQ weights). */
  calib?: string;
  /** Use at most this many calibration samples. */
  maxSamples?: number;
  /** Evaluation data directory (ONNX test-data layout): the error is measured on its inputs. */
  data: string;
  /** Use at most this many evaluation samples (rows of the batch dimension). */
  dataSamples?: number;
  onProgress?: (p: MixedProgress) => void;
}

/** Error of the model's first output against the float model's, over the evaluation data. */
export interface OutputError {
  /** 10·log10(Σref² / Σ(ref − out)²) in dB; +Infinity when exact. */
  sqnr: number;
  cosine: number;
  /** Mean squared error per output element: the quantity the allocator adds up. */
  mse: number;
  /** Fraction of rows (last axis = classes) with the same argmax; undefined when the last axis has < 2 entries. */
  top1?: number;
}

/** One weight of a layer, as the recipe quantizes it. */
export interface LayerWeight {
  name: string;
  elements: number;
  /** Storage bits per element. */
  bits: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** The error of quantizing one layer alone. */
export interface LayerSensitivity extends OutputError {
  /** The layer's name (`nodeMatchName`: node name, else its first output's name). */
  layer: string;
  op: string;
  weights: LayerWeight[];
  bytesBefore: number;
  bytesAfter: number;
}

/** The result of `sensitivity`. */
export interface SensitivityReport {
  recipe: string;
  /** Evaluation samples the errors were measured on. */
  samples: number;
  /** Mean square of the float output (the SQNR numerator). */
  signal: number;
  /** Most sensitive (largest MSE) first. */
  layers: LayerSensitivity[];
  /** Every planned layer quantized at once, measured. */
  all: OutputError;
  /** The same predicted from the layers (sum of their MSEs). */
  predicted: { mse: number; sqnr: number };
  /** Bytes of every weight-store tensor of the float model. */
  modelBytes: number;
  /** quantizeModel's notes (fallbacks), and layers made of several same-named nodes. */
  notes: string[];
}

// ---- recipes ---------------------------------------------------------------------------------

/** A regex source that matches exactly `s`. */
const exactName = (s: string): string => `^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`;

const regexSources = (rs: readonly RegExp[]): string[] => rs.map((r) => r.source);

function ruleToJson(r: RecipeRule): Record<string, unknown> {
  const out: Record<string, unknown> = { match: { ops: [...r.match.ops], names: regexSources(r.match.names) } };
  if (r.weights !== undefined) out.weights = r.weights === null ? null : { ...r.weights };
  if (r.activations !== undefined) out.activations = r.activations === null ? null : { ...r.activations, ...(r.activations.observer ? { observer: { ...r.activations.observer } } : {}) };
  return out;
}

/** A recipe as JSON that `validateRecipe` turns back into an equal recipe (regexes keep their source; recipes have no flags). */
export function recipeToJson(recipe: Recipe): Record<string, unknown> {
  const d = recipe.defaults;
  return {
    name: recipe.name,
    description: recipe.description,
    passes: recipe.passes,
    ops: [...recipe.ops],
    defaults: {
      weights: d.weights === null ? null : { ...d.weights },
      activations: d.activations === null ? null : { ...d.activations, observer: { ...d.activations.observer } },
    },
    rules: recipe.rules.map(ruleToJson),
    exclude: { ops: [...recipe.exclude.ops], names: regexSources(recipe.exclude.names), first: recipe.exclude.first, last: recipe.exclude.last },
  };
}

/** `recipe` restricted to the layer named `layer`: a last rule turns both sides off for every other node. */
export function layerOnlyRecipe(recipe: Recipe, layer: string): Recipe {
  const json = recipeToJson(recipe);
  const others = `^(?!${exactName(layer).slice(1, -1)}$)`;
  json.name = `${recipe.name}@${layer}`;
  json.rules = [...(json.rules as unknown[]), { match: { names: [others] }, weights: null, activations: null }];
  return validateRecipe(json, `${recipe.source} (layer ${layer} only)`);
}

// ---- evaluation ------------------------------------------------------------------------------

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** The evaluation inputs and the float model's first output on them. */
interface EvalData {
  sets: Tensor[][];
  /** The float model's first output, per set. */
  reference: Tensor[];
  samples: number;
  /** Mean square of the reference elements. */
  signal: number;
}

/** The model's first output on one evaluation set. */
function firstOutput(model: Model, inputs: Tensor[], trusted: boolean): Tensor {
  const out = run(model.graph, inputs, { trusted })[0]!;
  if (!isFloat(out.dtype)) fail('usage', `the model's first output '${model.graph.outputs[0]!.name}' is ${out.dtype}; sensitivity compares float outputs`);
  return out;
}

function readEval(model: Model, dir: string, dataSamples: number | undefined): EvalData {
  const g = model.graph;
  const batched = batchedInputs(g);
  const sets: Tensor[][] = [];
  let samples = 0;
  for (const set of listDataSets(dir)) {
    const left = (dataSamples ?? Infinity) - samples;
    if (left <= 0) break;
    const { inputs, n } = takeSamples(batched, readDataDir(set.dir)[0]!.inputs, left);
    sets.push(inputs);
    samples += n;
  }
  if (sets.length === 0) fail('usage', `no evaluation samples (dataSamples ${dataSamples})`, dir);
  let reference: Tensor[];
  try {
    reference = sets.map((inputs) => firstOutput(model, inputs, false));
  } catch (e) {
    if (isLutraError(e) && e.code === 'input') throw new LutraError('input', `evaluation data: ${e.message}`, dir);
    throw e;
  }
  let signal = 0;
  for (const t of reference) {
    const d = t.data as ArrayLike<number>;
    for (let i = 0; i < d.length; i++) signal += d[i]! * d[i]!;
  }
  return { sets, reference, samples, signal: signal / sum(reference.map((t) => t.size)) };
}

/** The error of `model`'s first output against the float reference over the evaluation sets. */
function outputError(model: Model, ev: EvalData): OutputError {
  const cmp = new OutputComparison();
  ev.sets.forEach((inputs, i) => cmp.add(ev.reference[i]!, firstOutput(model, inputs, true)));
  const r = cmp.result();
  const e: OutputError = { sqnr: r.sqnrDb, cosine: r.cosine, mse: cmp.errSq / Math.max(1, sum(ev.reference.map((t) => t.size))) };
  const ref = ev.reference[0]!;
  if ((ref.shape[ref.rank - 1] ?? 1) >= 2) e.top1 = r.agreement;
  return e;
}

const sqnrOf = (signal: number, mse: number): number => (mse === 0 ? Infinity : 10 * Math.log10(signal / mse));

// ---- sensitivity -----------------------------------------------------------------------------

/** A model quantized once with a recipe whose planned layers can be switched between float and quantized. */
interface Switchable {
  model: Model;
  layers: { name: string; nodes: Node[]; weights: LayerWeight[] }[];
  notes: string[];
  select(on: ReadonlySet<string>): void;
}

function switchable(load: () => Model, recipe: Recipe, opts: SensitivityOptions): Switchable {
  const model = load();
  const g = model.graph;
  const floatInputs = new Map(g.nodes.map((n) => [n, [...n.inputs]]));
  const floatConsts = g.constants.map((v) => [v, g.constValue(v)] as const);
  const onProgress = opts.onProgress && ((done: number, total: number) => opts.onProgress!({ stage: 'quantize', recipe: recipe.name, done, total }));
  const res = quantizeModel(model, recipe, { calib: opts.calib, maxSamples: opts.maxSamples, onProgress });
  // the float weights quantizeModel erased: a layer switched off reads them again
  const live = new Set(g.constants);
  for (const [v, t] of floatConsts) {
    if (live.has(v) || !t || v.weight === undefined) continue;
    g.constants.push(v);
    g.weights.set(v.weight, t);
  }
  const quantized = [...g.nodes];
  const planned = new Set<Node>([...res.plan.weights.map((w) => w.node), ...res.plan.activations.flatMap((a) => a.consumers)]);
  const byName = new Map<string, { name: string; nodes: Node[]; weights: LayerWeight[] }>();
  const quantInputs = new Map<Node, (Value | null)[]>();
  for (const n of g.nodes) {
    if (!planned.has(n)) continue;
    quantInputs.set(n, [...n.inputs]);
    const name = nodeMatchName(n);
    const layer = byName.get(name) ?? { name, nodes: [], weights: [] };
    layer.nodes.push(n);
    byName.set(name, layer);
  }
  for (const w of res.weights) {
    byName.get(nodeMatchName(w.node))!.weights.push({ name: w.name, elements: w.elements, bits: w.bits, bytesBefore: w.bytesBefore, bytesAfter: w.bytesAfter });
  }
  const notes = [...res.notes];
  for (const l of byName.values()) if (l.nodes.length > 1) notes.push(`layer '${l.name}': ${l.nodes.length} nodes share the name and are switched together`);
  return {
    model,
    layers: [...byName.values()],
    notes,
    select(on) {
      for (const l of byName.values()) {
        for (const n of l.nodes) n.inputs = [...(on.has(l.name) ? quantInputs : floatInputs).get(n)!];
      }
      // run only the quantizers some switched-on layer reads (they feed planned nodes, never subgraphs)
      const used = new Set<Value | null>(g.outputs);
      const keep = new Set<Node>();
      for (let i = quantized.length - 1; i >= 0; i--) {
        const n = quantized[i]!;
        if (!floatInputs.has(n) && !n.outputs.some((v) => used.has(v))) continue;
        keep.add(n);
        for (const v of n.inputs) used.add(v);
      }
      g.nodes = quantized.filter((n) => keep.has(n));
    },
  };
}

function measure(sw: Switchable, recipe: Recipe, ev: EvalData, modelBytes: number, opts: SensitivityOptions): SensitivityReport {
  const err = (on: ReadonlySet<string>): OutputError => {
    sw.select(on);
    return outputError(sw.model, ev);
  };
  const layers: LayerSensitivity[] = sw.layers.map((l, i) => {
    const e = err(new Set([l.name]));
    opts.onProgress?.({ stage: 'measure', recipe: recipe.name, done: i + 1, total: sw.layers.length + 1 });
    return {
      layer: l.name, op: l.nodes[0]!.op, ...e, weights: l.weights,
      bytesBefore: sum(l.weights.map((w) => w.bytesBefore)), bytesAfter: sum(l.weights.map((w) => w.bytesAfter)),
    };
  });
  const all = err(new Set(sw.layers.map((l) => l.name)));
  opts.onProgress?.({ stage: 'measure', recipe: recipe.name, done: sw.layers.length + 1, total: sw.layers.length + 1 });
  const mse = sum(layers.map((l) => l.mse));
  return {
    recipe: recipe.name,
    samples: ev.samples,
    signal: ev.signal,
    layers: layers.sort((a, b) => b.mse - a.mse),
    all,
    predicted: { mse, sqnr: sqnrOf(ev.signal, mse) },
    modelBytes,
    notes: sw.notes,
  };
}

/**
 * A loader of fresh copies of `model` after `passes` (a recipe's pipeline, run once here with the
 * calibration data in its context): what sensitivity and chooseBitWidths quantize.
 */
export async function preparedLoader(model: Model, passes: string, opts: { calib?: string; maxSamples?: number }): Promise<() => Model> {
  if (passes.trim() !== '') await runPipeline(model, passes, { calib: opts.calib, samples: opts.maxSamples, log: () => {} });
  return () => cloneModel(model);
}

/**
 * Quantize each planned layer of `recipe` alone and measure the model's first output against the
 * float model on `opts.data`. One quantization (and calibration) in all, one model run per layer.
 * `load` gives a fresh copy of the model with the recipe's passes already run (`preparedLoader`).
 */
export function sensitivity(load: () => Model, recipe: Recipe, opts: SensitivityOptions): SensitivityReport {
  const model = load();
  const ev = readEval(model, opts.data, opts.dataSamples);
  return measure(switchable(load, recipe, opts), recipe, ev, weightBytes(model), opts);
}

// ---- bit allocation --------------------------------------------------------------------------

/** One way to store one layer, for the allocator. */
export interface AllocOption {
  bytes: number;
  mse: number;
}

/** A point of the model-level frontier the greedy walk traces: size and predicted error after each step. */
export interface FrontierPoint {
  totalBytes: number;
  mse: number;
  /** The upgrade that led here (layer index, option index); absent on the first point. */
  step?: { layer: number; option: number };
}

/** The result of `allocateBits`: an option index per layer. */
export interface Allocation {
  choice: number[];
  totalBytes: number;
  mse: number;
  /** Smallest and largest useful sizes (every layer at its first / last Pareto option). */
  minBytes: number;
  maxBytes: number;
  /** Per layer, whether each option is on its Pareto frontier. */
  pareto: boolean[][];
  frontier: FrontierPoint[];
}

/** Indices of `opts` on the Pareto frontier, by increasing size (so decreasing error). */
function paretoFront(opts: readonly AllocOption[]): number[] {
  const order = opts.map((_, i) => i).sort((a, b) => opts[a]!.bytes - opts[b]!.bytes || opts[a]!.mse - opts[b]!.mse);
  const out: number[] = [];
  for (const i of order) if (out.length === 0 || opts[i]!.mse < opts[out[out.length - 1]!]!.mse) out.push(i);
  return out;
}

/** The lower convex hull of a Pareto front (indices), so that error saved per byte decreases along it. */
function lowerHull(opts: readonly AllocOption[], front: readonly number[]): number[] {
  const h: number[] = [];
  for (const i of front) {
    while (h.length >= 2) {
      const a = opts[h[h.length - 2]!]!, b = opts[h[h.length - 1]!]!, c = opts[i]!;
      if ((b.bytes - a.bytes) * (c.mse - a.mse) - (b.mse - a.mse) * (c.bytes - a.bytes) > 0) break;
      h.pop();
    }
    h.push(i);
  }
  return h;
}

/**
 * Pick one option per layer minimising Σ mse subject to `fixedBytes + Σ bytes ≤ budgetBytes`:
 * the greedy walk over each layer's lower convex hull by error saved per byte (exact at the
 * walk's frontier points), then a greedy fill of what is left from the Pareto options.
 * A budget below the smallest size is a usage error.
 */
export function allocateBits(layers: readonly (readonly AllocOption[])[], budgetBytes: number, fixedBytes: number): Allocation {
  const fronts = layers.map(paretoFront);
  const hulls = layers.map((o, l) => lowerHull(o, fronts[l]!));
  const choice = fronts.map((f) => f[0]!);
  const size = (): number => fixedBytes + sum(choice.map((c, l) => layers[l]![c]!.bytes));
  const err = (): number => sum(choice.map((c, l) => layers[l]![c]!.mse));
  const minBytes = size();
  const maxBytes = fixedBytes + sum(fronts.map((f, l) => layers[l]![f[f.length - 1]!]!.bytes));
  if (budgetBytes < minBytes) {
    fail('usage', `size budget ${budgetBytes} bytes is below the smallest size the candidates reach, ${minBytes} bytes (every layer at its smallest option)`);
  }
  // every hull segment, by error saved per byte; convexity keeps each layer's segments in order
  const steps: { layer: number; option: number; gain: number }[] = [];
  hulls.forEach((h, l) => {
    for (let j = 1; j < h.length; j++) {
      const a = layers[l]![h[j - 1]!]!, b = layers[l]![h[j]!]!;
      steps.push({ layer: l, option: h[j]!, gain: (a.mse - b.mse) / (b.bytes - a.bytes) });
    }
  });
  steps.sort((a, b) => b.gain - a.gain || a.layer - b.layer);
  const frontier: FrontierPoint[] = [{ totalBytes: minBytes, mse: err() }];
  const walk = [...choice];
  let walkBytes = minBytes;
  let stopped = false;
  for (const s of steps) {
    walkBytes += layers[s.layer]![s.option]!.bytes - layers[s.layer]![walk[s.layer]!]!.bytes;
    walk[s.layer] = s.option;
    if (!stopped && walkBytes <= budgetBytes) choice[s.layer] = s.option;
    else stopped = true;
    frontier.push({ totalBytes: walkBytes, mse: sum(walk.map((c, l) => layers[l]![c]!.mse)), step: { layer: s.layer, option: s.option } });
  }
  // fill: the best remaining upgrade per byte that still fits, until none does
  for (;;) {
    const total = size();
    let best: { layer: number; option: number; gain: number } | undefined;
    fronts.forEach((f, l) => {
      const cur = layers[l]![choice[l]!]!;
      for (const i of f) {
        const o = layers[l]![i]!;
        if (o.bytes <= cur.bytes || o.mse >= cur.mse || total + o.bytes - cur.bytes > budgetBytes) continue;
        const gain = (cur.mse - o.mse) / (o.bytes - cur.bytes);
        if (!best || gain > best.gain) best = { layer: l, option: i, gain };
      }
    });
    if (!best) break;
    choice[best.layer] = best.option;
  }
  const pareto = layers.map((o, l) => o.map((_, i) => fronts[l]!.includes(i)));
  return { choice, totalBytes: size(), mse: err(), minBytes, maxBytes, pareto, frontier };
}

/** One option of one layer: a candidate recipe's treatment of it. */
export interface LayerOption {
  candidate: string;
  /** Bytes of the layer's weights under this option (float bytes where it leaves them float). */
  bytes: number;
  /** Storage bits per weight element (averaged over the layer's weights); the float bits where it leaves them float. */
  bits: number;
  mse: number;
  sqnr: number;
  pareto: boolean;
}

/** What `chooseBitWidths` chose for one layer. */
export interface BitChoice {
  layer: string;
  candidate: string;
  bits: number;
  bytes: number;
  mse: number;
  sqnr: number;
}

/** The result of `chooseBitWidths`. */
export interface BitWidthChoice {
  /** One rule per chosen treatment, naming its layers with anchored, escaped regexes. */
  recipe: Recipe;
  chosen: BitChoice[];
  /** The model-level frontier of the greedy walk: size and predicted error after each upgrade. */
  frontier: { totalBytes: number; mse: number; sqnr: number; step?: { layer: string; candidate: string } }[];
  /** Every layer's options, Pareto-flagged. */
  layers: { layer: string; options: LayerOption[] }[];
  budgetBytes: number;
  totalBytes: number;
  /** The float model's weight bytes, and the smallest / largest useful sizes the candidates reach. */
  floatBytes: number;
  minBytes: number;
  maxBytes: number;
  /** Σ of the chosen layers' MSEs (additive-noise assumption), and the SQNR it implies. */
  predictedError: { mse: number; sqnr: number };
  /** The per-candidate sensitivity reports the choice was made from. */
  reports: SensitivityReport[];
  notes: string[];
}

/** The weight bits of a float tensor of `bytes` bytes and `elements` elements. */
const floatBits = (w: LayerWeight): number => (8 * w.bytesBefore) / Math.max(1, w.elements);

/**
 * Choose, per layer, one of `candidates` to minimise the summed layer-alone output MSE subject
 * to the model's weight bytes ≤ `budgetBytes` (see `allocateBits`). Sizes count the parts that
 * stay float: model bytes − planned float bytes + the chosen options' bytes. The candidates
 * share one pass pipeline; `load` gives fresh copies of the model it already ran on.
 */
export function chooseBitWidths(load: () => Model, candidates: readonly Recipe[], budgetBytes: number, opts: SensitivityOptions): BitWidthChoice {
  if (candidates.length === 0) fail('usage', 'mixed precision needs at least one candidate recipe');
  if (!(budgetBytes > 0)) fail('usage', `size budget must be a positive number of bytes (got ${budgetBytes})`);
  // the chosen recipe mixes layers of one model: every candidate must rewrite it the same way first
  const passes = candidates[0]!.passes;
  const other = candidates.find((c) => c.passes !== passes);
  if (other) fail('usage', `mixed precision needs candidates with one pass pipeline: '${candidates[0]!.name}' runs "${passes}", '${other.name}' runs "${other.passes}"`);
  const model = load();
  const floatBytes = weightBytes(model);
  const nodeByName = new Map<string, Node>();
  for (const n of model.graph.nodes) if (!nodeByName.has(nodeMatchName(n))) nodeByName.set(nodeMatchName(n), n);
  const names = candidates.map((c, i) => (candidates.some((d, j) => j !== i && d.name === c.name) ? `${c.name}#${i}` : c.name));
  const sws = candidates.map((c) => switchable(load, c, opts));

  // the layers any candidate plans, in graph order, with every weight any candidate quantizes for them
  const order = [...nodeByName.keys()];
  const layerNames = [...new Set(sws.flatMap((sw) => sw.layers.map((l) => l.name)))].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const floatWeights = new Map<string, Map<string, LayerWeight>>(layerNames.map((n) => [n, new Map()]));
  for (const sw of sws) for (const l of sw.layers) for (const w of l.weights) floatWeights.get(l.name)!.set(w.name, w);
  const plannedFloat = sum([...floatWeights.values()].flatMap((m) => [...m.values()].map((w) => w.bytesBefore)));
  const fixedBytes = floatBytes - plannedFloat;
  const sizes = layerNames.map((layer) => {
    const all = [...floatWeights.get(layer)!.values()];
    const elements = sum(all.map((w) => w.elements));
    return sws.map((sw) => {
      const q = new Map((sw.layers.find((l) => l.name === layer)?.weights ?? []).map((w) => [w.name, w]));
      return {
        bytes: sum(all.map((w) => q.get(w.name)?.bytesAfter ?? w.bytesBefore)),
        bits: elements === 0 ? 0 : sum(all.map((w) => (q.get(w.name)?.bits ?? floatBits(w)) * w.elements)) / elements,
      };
    });
  });
  // sizes need no measurement: an impossible budget fails before the model runs
  allocateBits(sizes.map((o) => o.map((x) => ({ bytes: x.bytes, mse: 0 }))), budgetBytes, fixedBytes);

  const ev = readEval(model, opts.data, opts.dataSamples);
  const reports = sws.map((sw, c) => measure(sw, candidates[c]!, ev, floatBytes, opts));
  const layers = layerNames.map((layer, i) => ({
    layer,
    options: reports.map((r, c): Omit<LayerOption, 'pareto'> => {
      const s = r.layers.find((l) => l.layer === layer);
      return { candidate: names[c]!, ...sizes[i]![c]!, mse: s?.mse ?? 0, sqnr: s?.sqnr ?? Infinity };
    }),
  }));
  const alloc = allocateBits(layers.map((l) => l.options), budgetBytes, fixedBytes);
  const sqnr = (mse: number): number => sqnrOf(ev.signal, mse);

  const notes: string[] = [
    'predicted error = Σ of layer-alone output MSEs (additive-noise assumption); measure the chosen recipe to confirm',
  ];
  if (budgetBytes >= floatBytes) notes.push(`the budget (${budgetBytes} bytes) is at least the float model's size (${floatBytes} bytes): no quantization is needed to meet it; the lowest-error option is chosen per layer`);
  else if (budgetBytes >= alloc.maxBytes) notes.push(`the budget reaches the largest useful size (${alloc.maxBytes} bytes): every layer takes its lowest-error option`);

  // the chosen recipe: one rule per distinct resolved treatment, naming its layers exactly
  const groups = new Map<string, { weights: WeightSpec | null; activations: ActivationSpec | null; names: string[] }>();
  layers.forEach((l, i) => {
    const c = alloc.choice[i]!;
    if (!reports[c]!.layers.some((s) => s.layer === l.layer)) return; // the candidate leaves this layer float
    const spec = resolveSpecs(candidates[c]!, nodeByName.get(l.layer)!);
    const key = JSON.stringify(spec);
    const grp = groups.get(key) ?? { ...spec, names: [] };
    grp.names.push(exactName(l.layer));
    groups.set(key, grp);
  });
  const summary = names.map((n, c) => `${n} ×${alloc.choice.filter((x) => x === c).length}`).join(', ');
  const json = {
    name: `mixed-${names.join('+')}`,
    description: `mixed precision under ${budgetBytes} bytes: ${summary}; predicted output SQNR ${sqnr(alloc.mse).toFixed(2)} dB`,
    ops: [...new Set(candidates.flatMap((c) => c.ops))],
    ...(passes ? { passes } : {}),
    defaults: { weights: null, activations: null },
    rules: [...groups.values()].map((g) => ({ match: { names: g.names }, weights: g.weights, activations: g.activations })),
  };
  const recipe = validateRecipe(json, `mixed precision (${names.join(', ')}; budget ${budgetBytes} bytes)`);

  return {
    recipe,
    chosen: layers.map((l, i) => {
      const o = l.options[alloc.choice[i]!]!;
      return { layer: l.layer, candidate: o.candidate, bits: o.bits, bytes: o.bytes, mse: o.mse, sqnr: o.sqnr };
    }),
    frontier: alloc.frontier.map((p) => ({
      totalBytes: p.totalBytes, mse: p.mse, sqnr: sqnr(p.mse),
      ...(p.step ? { step: { layer: layers[p.step.layer]!.layer, candidate: names[p.step.option]! } } : {}),
    })),
    layers: layers.map((l, i) => ({ layer: l.layer, options: l.options.map((o, j) => ({ ...o, pareto: alloc.pareto[i]![j]! })) })),
    budgetBytes,
    totalBytes: alloc.totalBytes,
    floatBytes,
    minBytes: alloc.minBytes,
    maxBytes: alloc.maxBytes,
    predictedError: { mse: alloc.mse, sqnr: sqnr(alloc.mse) },
    reports,
    notes: [...notes, ...reports.flatMap((r) => r.notes.map((n) => `${r.recipe}: ${n}`))],
  };
}

// ---- default candidates ----------------------------------------------------------------------

const INT4_GROUP: WeightSpec = { type: 'int4', granularity: 'group', group: 128, symmetric: false, rounding: 'rtn' };
const INT8_CHANNEL: WeightSpec = { type: 'int8', granularity: 'channel', group: 128, symmetric: true, rounding: 'rtn' };

/**
 * The candidates `--size-budget` chooses from when none are given: the recipe itself and its
 * counterpart with only the weight format changed (8/16-bit and fp8 weights ↔ int4 groups of
 * 128; int4 ↔ int8 per channel; float weights → both), activations as the recipe has them.
 */
export function defaultCandidates(recipe: Recipe): Recipe[] {
  const w = recipe.defaults.weights;
  const swaps: [string, WeightSpec][] = !w ? [['int8', INT8_CHANNEL], ['int4', INT4_GROUP]]
    : w.type === 'int4' || w.type === 'uint4' ? [['int8', INT8_CHANNEL]] : [['int4', INT4_GROUP]];
  const json = recipeToJson(recipe);
  const variants = swaps.map(([tag, spec]) => {
    const rules = ((json.rules as Record<string, unknown>[] | undefined) ?? []).map((r) => (r.weights ? { ...r, weights: { ...spec } } : r));
    return validateRecipe({ ...json, name: `${recipe.name}+${tag}`, defaults: { ...(json.defaults as object), weights: { ...spec } }, rules }, `${recipe.source} (weights ${tag})`);
  });
  return w ? [recipe, ...variants] : variants;
}
