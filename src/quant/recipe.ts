/**
 * @fileoverview Quantization recipes: a strict JSON schema that chooses, per op type and node
 * name, how weights and activations are quantized — and the planner that applies a recipe to a
 * model, producing the list of weight tensors and activation tensors to quantize.
 * docs/recipes.md documents every key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { isFloat } from '../ir/dtype.js';
import { LutraError } from '../ir/diagnostics.js';
import type { Graph, Model, Node, Value } from '../ir/graph.js';
import { graphTree } from '../rewrite/erase.js';
import '../ir/ops/index.js';
import { getAttr, getOp } from '../ir/registry.js';
import { expressedDType, isQuant } from '../ir/types.js';
import { OBSERVER_KINDS, type ObserverOptions } from './observers.js';
import type { QuantFormat, QuantScheme } from './quantizer.js';
import { BUILTIN_RECIPES } from './recipes/builtin.js';

/** Element types a recipe may name (the quantizer's formats). */
export const QUANT_FORMATS: readonly QuantFormat[] = ['int8', 'uint8', 'int6', 'uint6', 'int4', 'uint4', 'int3', 'uint3', 'int16', 'fp8e4m3'];
/** How weights are rounded onto the grid: round-to-nearest, clip-searched, or GPTQ (§8). */
export type WeightRounding = 'rtn' | 'clip' | 'gptq';
/** Static activations are calibrated; dynamic ones get their range at run time. */
export type ActivationMode = 'static' | 'dynamic';

/** Observer choice for an activation: `createObserver`'s options less the axis (the planner sets it). */
export type ObserverSpec = Omit<ObserverOptions, 'axis'>;

/** How the weights of a matched node are quantized. */
export interface WeightSpec {
  type: QuantFormat;
  granularity: 'tensor' | 'channel' | 'group';
  /** Group size along the reduction axis (granularity 'group'). */
  group: number;
  symmetric: boolean;
  rounding: WeightRounding;
}

/** How the float inputs of a matched node are quantized. */
export interface ActivationSpec {
  type: QuantFormat;
  granularity: 'tensor' | 'channel';
  symmetric: boolean;
  observer: ObserverSpec;
  mode: ActivationMode;
}

/** A rule: where it applies, and what it overrides (`null` turns that side off, absent keeps it). */
export interface RecipeRule {
  match: { ops: string[]; names: RegExp[] };
  weights?: Partial<WeightSpec> | null;
  activations?: Partial<ActivationSpec> | null;
}

/** A validated recipe. */
export interface Recipe {
  name: string;
  description: string;
  /** Where it came from (a file path or `built-in recipe <name>`), for diagnostics. */
  source: string;
  /**
   * A pass pipeline run before planning (outlier migration: `smooth-quant{alpha=0.5}`), with the
   * calibration data in its context. '' = none.
   */
  passes: string;
  /** Op types whose nodes are planned. */
  ops: string[];
  defaults: { weights: WeightSpec | null; activations: ActivationSpec | null };
  rules: RecipeRule[];
  exclude: { ops: string[]; names: RegExp[]; first: boolean; last: boolean };
}

// ---- quantizable ops -------------------------------------------------------------------------

/** Axes of a constant weight operand: per-channel axis (output channels) and group axis (reduction). */
export interface WeightLayout {
  channelAxis: number;
  groupAxis: number;
}

/** One data operand of a quantizable op. */
export interface QuantOperand {
  index: number;
  /** Layout when the operand is a constant weight of rank `rank`; undefined = never a weight. */
  weight?: (node: Node, rank: number) => WeightLayout | undefined;
  /** The input-channel (reduction) axis when the operand is an activation of rank `rank`. */
  channelAxis: (node: Node, rank: number) => number;
}

/** A quantizable op: the recipe op name it answers to and its data operands (biases are not listed). */
export interface QuantOpSpec {
  family: string;
  operands: QuantOperand[];
}

const matmulOperands: QuantOperand[] = [
  // A [.., M, K]: output channels are rows, the reduction runs along the last axis
  { index: 0, weight: (_n, r) => (r >= 2 ? { channelAxis: r - 2, groupAxis: r - 1 } : undefined), channelAxis: (_n, r) => r - 1 },
  // B [.., K, N]: output channels are columns (N), the reduction runs along K
  { index: 1, weight: (_n, r) => (r >= 2 ? { channelAxis: r - 1, groupAxis: r - 2 } : undefined), channelAxis: (_n, r) => Math.max(0, r - 2) },
];
const trans = (n: Node, a: string): boolean => getAttr<number>(n, a) !== 0;

const QUANT_OPS = new Map<string, QuantOpSpec>([
  ['onnx.MatMul', { family: 'MatMul', operands: matmulOperands }],
  ['fused.MatMulAdd', { family: 'MatMul', operands: matmulOperands }],
  ['onnx.Gemm', {
    family: 'Gemm',
    operands: [
      { index: 0, weight: (n) => (trans(n, 'transA') ? { channelAxis: 1, groupAxis: 0 } : { channelAxis: 0, groupAxis: 1 }), channelAxis: (n) => (trans(n, 'transA') ? 0 : 1) },
      { index: 1, weight: (n) => (trans(n, 'transB') ? { channelAxis: 0, groupAxis: 1 } : { channelAxis: 1, groupAxis: 0 }), channelAxis: (n) => (trans(n, 'transB') ? 1 : 0) },
    ],
  }],
  ['onnx.Conv', {
    family: 'Conv',
    operands: [
      { index: 0, channelAxis: () => 1 },
      // W [M, C/g, k…]: per output channel M, groups along the input channels
      { index: 1, weight: () => ({ channelAxis: 0, groupAxis: 1 }), channelAxis: () => 1 },
    ],
  }],
  ['onnx.ConvTranspose', {
    family: 'ConvTranspose',
    operands: [
      { index: 0, channelAxis: () => 1 },
      // W [C, M/g, k…]: output channels on axis 1, the reduction runs along C
      { index: 1, weight: () => ({ channelAxis: 1, groupAxis: 0 }), channelAxis: () => 1 },
    ],
  }],
]);

/** The op types planned when a recipe has no `ops` key. */
export const DEFAULT_QUANT_OPS: readonly string[] = ['MatMul', 'Gemm', 'Conv', 'ConvTranspose'];

/** Register (or replace) a quantizable op, e.g. a new fused form of a linear layer. */
export function registerQuantOp(op: string, spec: QuantOpSpec): void {
  QUANT_OPS.set(op, spec);
}

/** The quantizable-op entry for a dialect-prefixed op name. */
export function quantOpSpec(op: string): QuantOpSpec | undefined {
  return QUANT_OPS.get(op);
}

/** Whether a recipe op name (`MatMul`, `onnx.MatMul`, `fused.MatMulAdd`) selects node op `op`. */
export function opMatches(name: string, op: string): boolean {
  if (name.includes('.')) return name === op;
  return op === `onnx.${name}` || op === `fused.${name}` || QUANT_OPS.get(op)?.family === name;
}

// ---- validation ------------------------------------------------------------------------------

type Json = Record<string, unknown>;

const OBSERVER_OPTIONS: Readonly<Record<string, readonly ObserverOptions['kind'][]>> = {
  percentile: ['percentile'],
  momentum: ['moving-minmax'],
  bins: ['percentile', 'entropy', 'mse'],
};
const WEIGHT_KEYS = ['type', 'granularity', 'group', 'symmetric', 'rounding'];
const ACTIVATION_KEYS = ['type', 'granularity', 'symmetric', 'observer', 'mode'];

/** What a recipe leaves unsaid about weights. */
export const WEIGHT_DEFAULTS: WeightSpec = { type: 'int8', granularity: 'channel', group: 128, symmetric: true, rounding: 'rtn' };
/** What a recipe leaves unsaid about activations. */
export const ACTIVATION_DEFAULTS: ActivationSpec = {
  type: 'uint8', granularity: 'tensor', symmetric: false, observer: { kind: 'minmax' }, mode: 'static',
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

class Checker {
  constructor(readonly file: string) {}

  fail(message: string): never {
    throw new LutraError('usage', message, this.file);
  }

  object(x: unknown, path: string, keys: readonly string[]): Json {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) this.fail(`'${path || 'recipe'}' must be an object`);
    for (const k of Object.keys(x)) {
      if (keys.includes(k)) continue;
      const near = keys.filter((c) => editDistance(c, k) <= 2);
      const full = path ? `${path}.${k}` : k;
      this.fail(`unknown key '${full}'${near.length ? ` (did you mean '${near[0]}'?)` : ` (allowed: ${keys.join(', ')})`}`);
    }
    return x as Json;
  }

  oneOf<T extends string>(x: unknown, path: string, values: readonly T[]): T {
    if (typeof x !== 'string' || !values.includes(x as T)) {
      this.fail(`'${path}' must be one of ${values.map((v) => `'${v}'`).join(', ')} (got ${JSON.stringify(x)})`);
    }
    return x as T;
  }

  bool(x: unknown, path: string): boolean {
    if (typeof x !== 'boolean') this.fail(`'${path}' must be true or false (got ${JSON.stringify(x)})`);
    return x;
  }

  string(x: unknown, path: string): string {
    if (typeof x !== 'string') this.fail(`'${path}' must be a string (got ${JSON.stringify(x)})`);
    return x;
  }

  number(x: unknown, path: string, ok: (v: number) => boolean, what: string): number {
    if (typeof x !== 'number' || !ok(x)) this.fail(`'${path}' must be ${what} (got ${JSON.stringify(x)})`);
    return x;
  }

  strings(x: unknown, path: string): string[] {
    if (typeof x === 'string') return [x];
    if (!Array.isArray(x) || x.some((s) => typeof s !== 'string')) this.fail(`'${path}' must be a string or an array of strings`);
    return x as string[];
  }

  ops(x: unknown, path: string): string[] {
    const ops = this.strings(x, path);
    ops.forEach((o, i) => {
      const known = o.includes('.') ? getOp(o) !== undefined || QUANT_OPS.has(o) : getOp(`onnx.${o}`) !== undefined || getOp(`fused.${o}`) !== undefined;
      if (!known) this.fail(`'${path}[${i}]': unknown op '${o}' (write ONNX op types like 'MatMul', or a dialect name like 'fused.MatMulAdd')`);
    });
    return ops;
  }

  regexes(x: unknown, path: string): RegExp[] {
    return this.strings(x, path).map((s, i) => {
      try {
        return new RegExp(s);
      } catch (e) {
        return this.fail(`'${path}[${i}]' is not a valid regular expression: ${(e as Error).message}`);
      }
    });
  }

  observer(x: unknown, path: string): ObserverSpec {
    const o = this.object(x, path, ['kind', ...Object.keys(OBSERVER_OPTIONS)]);
    const kind = this.oneOf(o.kind, `${path}.kind`, OBSERVER_KINDS);
    const out: ObserverSpec = { kind };
    for (const [k, kinds] of Object.entries(OBSERVER_OPTIONS)) {
      if (o[k] === undefined) continue;
      if (!kinds.includes(kind)) this.fail(`'${path}.${k}' applies only to observer kind ${kinds.map((v) => `'${v}'`).join(', ')} (kind is '${kind}')`);
    }
    if (o.percentile !== undefined) out.percentile = this.number(o.percentile, `${path}.percentile`, (v) => v > 0 && v <= 100, 'a number in (0, 100]');
    if (o.momentum !== undefined) out.momentum = this.number(o.momentum, `${path}.momentum`, (v) => v >= 0 && v < 1, 'a number in [0, 1)');
    if (o.bins !== undefined) out.bins = this.number(o.bins, `${path}.bins`, (v) => Number.isInteger(v) && v >= 8 && v <= 1 << 20, 'an integer in [8, 2^20]');
    return out;
  }

  weights(x: unknown, path: string): Partial<WeightSpec> {
    const o = this.object(x, path, WEIGHT_KEYS);
    const out: Partial<WeightSpec> = {};
    if (o.type !== undefined) out.type = this.oneOf(o.type, `${path}.type`, QUANT_FORMATS);
    if (o.granularity !== undefined) out.granularity = this.oneOf(o.granularity, `${path}.granularity`, ['tensor', 'channel', 'group'] as const);
    if (o.group !== undefined) out.group = this.number(o.group, `${path}.group`, (v) => Number.isInteger(v) && v >= 2, 'an integer ≥ 2');
    if (o.symmetric !== undefined) out.symmetric = this.bool(o.symmetric, `${path}.symmetric`);
    if (o.rounding !== undefined) out.rounding = this.oneOf(o.rounding, `${path}.rounding`, ['rtn', 'clip', 'gptq'] as const);
    if (out.type === 'fp8e4m3' && out.symmetric === false) this.fail(`'${path}.symmetric' must be true for fp8e4m3 (float8 has no zero point)`);
    return out;
  }

  activations(x: unknown, path: string): Partial<ActivationSpec> {
    const o = this.object(x, path, ACTIVATION_KEYS);
    const out: Partial<ActivationSpec> = {};
    if (o.type !== undefined) out.type = this.oneOf(o.type, `${path}.type`, QUANT_FORMATS);
    if (o.granularity !== undefined) out.granularity = this.oneOf(o.granularity, `${path}.granularity`, ['tensor', 'channel'] as const);
    if (o.symmetric !== undefined) out.symmetric = this.bool(o.symmetric, `${path}.symmetric`);
    if (o.observer !== undefined) out.observer = this.observer(o.observer, `${path}.observer`);
    if (o.mode !== undefined) out.mode = this.oneOf(o.mode, `${path}.mode`, ['static', 'dynamic'] as const);
    if (out.type === 'fp8e4m3' && out.symmetric === false) this.fail(`'${path}.symmetric' must be true for fp8e4m3 (float8 has no zero point)`);
    return out;
  }
}

/** Validate a parsed recipe JSON value; `file` names it in diagnostics. Unknown keys and bad values are errors. */
export function validateRecipe(json: unknown, file: string): Recipe {
  const c = new Checker(file);
  const o = c.object(json, '', ['name', 'description', 'passes', 'ops', 'defaults', 'rules', 'exclude']);
  const d = c.object(o.defaults ?? {}, 'defaults', ['weights', 'activations']);
  const weights = d.weights === null ? null : { ...WEIGHT_DEFAULTS, ...c.weights(d.weights ?? {}, 'defaults.weights') };
  const activations = d.activations === null ? null : { ...ACTIVATION_DEFAULTS, ...c.activations(d.activations ?? {}, 'defaults.activations') };
  if (!Array.isArray(o.rules ?? [])) c.fail(`'rules' must be an array`);
  const rules = ((o.rules ?? []) as unknown[]).map((r, i): RecipeRule => {
    const p = `rules[${i}]`;
    const ro = c.object(r, p, ['match', 'weights', 'activations']);
    const m = c.object(ro.match ?? {}, `${p}.match`, ['ops', 'names']);
    const rule: RecipeRule = { match: { ops: m.ops === undefined ? [] : c.ops(m.ops, `${p}.match.ops`), names: m.names === undefined ? [] : c.regexes(m.names, `${p}.match.names`) } };
    if (ro.weights !== undefined) rule.weights = ro.weights === null ? null : c.weights(ro.weights, `${p}.weights`);
    if (ro.activations !== undefined) rule.activations = ro.activations === null ? null : c.activations(ro.activations, `${p}.activations`);
    return rule;
  });
  const e = c.object(o.exclude ?? {}, 'exclude', ['ops', 'names', 'first', 'last']);
  return {
    name: o.name === undefined ? basename(file).replace(/\.json$/, '') : c.string(o.name, 'name'),
    description: o.description === undefined ? '' : c.string(o.description, 'description'),
    source: file,
    passes: o.passes === undefined ? '' : c.string(o.passes, 'passes'),
    ops: o.ops === undefined ? [...DEFAULT_QUANT_OPS] : c.ops(o.ops, 'ops'),
    defaults: { weights, activations },
    rules,
    exclude: {
      ops: e.ops === undefined ? [] : c.ops(e.ops, 'exclude.ops'),
      names: e.names === undefined ? [] : c.regexes(e.names, 'exclude.names'),
      first: e.first === undefined ? false : c.bool(e.first, 'exclude.first'),
      last: e.last === undefined ? false : c.bool(e.last, 'exclude.last'),
    },
  };
}

/** Names of the built-in recipes. */
export function builtinRecipeNames(): string[] {
  return Object.keys(BUILTIN_RECIPES);
}

/** A built-in recipe by name, or a recipe `.json` file (anything with a path separator or `.json`). */
export function loadRecipe(nameOrPath: string): Recipe {
  if (Object.prototype.hasOwnProperty.call(BUILTIN_RECIPES, nameOrPath)) {
    return validateRecipe(BUILTIN_RECIPES[nameOrPath], `built-in recipe ${nameOrPath}`);
  }
  const isPath = /[\\/]/.test(nameOrPath) || nameOrPath.endsWith('.json');
  if (!isPath) {
    throw new LutraError('usage', `unknown recipe '${nameOrPath}' (built-in recipes: ${builtinRecipeNames().join(', ')}; or give a recipe .json file)`);
  }
  if (!existsSync(nameOrPath)) throw new LutraError('io', 'recipe file not found', nameOrPath);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(nameOrPath, 'utf8'));
  } catch (e) {
    throw new LutraError('parse', `invalid JSON: ${(e as Error).message}`, nameOrPath);
  }
  return validateRecipe(json, nameOrPath);
}

// ---- planning --------------------------------------------------------------------------------

/** A constant weight operand to quantize. */
export interface PlannedWeight {
  node: Node;
  /** The graph `node` is in (the main graph, or an If branch). */
  graph: Graph;
  input: number;
  value: Value;
  scheme: QuantScheme;
  rounding: WeightRounding;
}

/** An activation tensor to quantize (once, however many planned nodes consume it). */
export interface PlannedActivation {
  value: Value;
  /** The graph its consumers are in (one entry per graph when a value is read in several). */
  graph: Graph;
  scheme: QuantScheme;
  observer: ObserverOptions;
  mode: ActivationMode;
  /** Planned nodes that asked for it, in graph order; the first one's scheme is used. */
  consumers: Node[];
}

/** A float input of a planned node whose per-channel statistics the outlier passes read. */
export interface ChannelTarget {
  value: Value;
  /** The input-channel (reduction) axis; negative when the rank is unknown at plan time. */
  axis: number;
}

/** What `planQuantization` decided for a model. */
export interface QuantPlan {
  recipe: Recipe;
  weights: PlannedWeight[];
  activations: PlannedActivation[];
  channels: ChannelTarget[];
  /** Nodes of a planned op type left in float, and why. */
  skipped: { node: Node; reason: string }[];
  /** Decisions worth showing in a report (conflicting consumers, granularity fallbacks). */
  notes: string[];
}

/** A node's name for `names` regexes: its name, or its first output's name when unnamed. */
export function nodeMatchName(node: Node): string {
  return node.name || node.outputs[0]?.name || '';
}

/** What `recipe` says for `node`: its defaults folded with every matching rule, in order. */
export function resolveSpecs(recipe: Recipe, node: Node): { weights: WeightSpec | null; activations: ActivationSpec | null } {
  let w = recipe.defaults.weights;
  let a = recipe.defaults.activations;
  for (const rule of recipe.rules) {
    if (!ruleMatches(rule, node)) continue;
    if (rule.weights !== undefined) w = rule.weights === null ? null : { ...(w ?? recipe.defaults.weights ?? WEIGHT_DEFAULTS), ...rule.weights };
    if (rule.activations !== undefined) a = rule.activations === null ? null : { ...(a ?? recipe.defaults.activations ?? ACTIVATION_DEFAULTS), ...rule.activations };
  }
  return { weights: w, activations: a };
}

function ruleMatches(rule: RecipeRule, node: Node): boolean {
  const { ops, names } = rule.match;
  if (ops.length && !ops.some((o) => opMatches(o, node.op))) return false;
  const name = nodeMatchName(node);
  return names.length === 0 || names.some((r) => r.test(name));
}

const isFloatValue = (v: Value): boolean => !isQuant(v.type.dtype) && isFloat(expressedDType(v.type.dtype));

function weightScheme(w: WeightSpec, v: Value, layout: WeightLayout | undefined, node: Node, notes: string[]): QuantScheme {
  const base = { format: w.type, symmetric: w.symmetric };
  if (w.granularity === 'tensor') return { ...base, granularity: 'tensor' };
  if (!layout) {
    notes.push(`${node.describe()}: weight '${v.name}' has no ${w.granularity} axis (rank ${v.type.shape?.length ?? '?'}); quantized per tensor`);
    return { ...base, granularity: 'tensor' };
  }
  if (w.granularity === 'channel') return { ...base, granularity: 'channel', axis: layout.channelAxis };
  const rank = v.type.shape?.length ?? 2;
  if (rank > 2) {
    // ONNX blocks run along one axis and keep every other dim: on a Conv kernel [M, C, kh, kw] each
    // (m, kh, kw) would get its own scale — more parameters than a per-channel layout saves.
    notes.push(`${node.describe()}: weight '${v.name}' is rank ${rank}; group quantization applies to matrices, so it is quantized per output channel`);
    return { ...base, granularity: 'channel', axis: layout.channelAxis };
  }
  return { ...base, granularity: 'group', axis: layout.groupAxis, group: w.group };
}

/** Apply `recipe` to the top-level graph of `model`: which weights and activations to quantize, and how. */
export function planQuantization(model: Model, recipe: Recipe): QuantPlan {
  const plan: QuantPlan = { recipe, weights: [], activations: [], channels: [], skipped: [], notes: [] };
  // the main graph, then If branches: their nodes are planned like any other
  const candidates: { node: Node; graph: Graph }[] = [];
  for (const graph of graphTree(model.graph)) {
    for (const node of graph.nodes) if (recipe.ops.some((o) => opMatches(o, node.op))) candidates.push({ node, graph });
  }
  const byValue = new Map<string, PlannedActivation>();
  const ids = new Map<Value | Graph, number>();
  const id = (x: Value | Graph): number => { let i = ids.get(x); if (i === undefined) ids.set(x, (i = ids.size)); return i; };
  const channelSeen = new Set<Value>();
  candidates.forEach(({ node, graph }, i) => {
    const ex = recipe.exclude;
    const reason = ex.first && i === 0 ? 'exclude.first'
      : ex.last && i === candidates.length - 1 ? 'exclude.last'
        : ex.ops.some((o) => opMatches(o, node.op)) ? 'exclude.ops'
          : ex.names.some((r) => r.test(nodeMatchName(node))) ? 'exclude.names' : undefined;
    if (reason) { plan.skipped.push({ node, reason }); return; }

    const { weights: w, activations: a } = resolveSpecs(recipe, node);
    for (const [side, s] of [['weights', w], ['activations', a]] as const) {
      if (s?.type === 'fp8e4m3' && !s.symmetric) {
        throw new LutraError('usage', `${node.describe()}: the recipe's ${side} resolve to asymmetric fp8e4m3; float8 has no zero point (set symmetric: true)`, recipe.source);
      }
    }
    if (!w && !a) { plan.skipped.push({ node, reason: 'recipe: weights and activations null' }); return; }

    const spec = QUANT_OPS.get(node.op);
    const operands: QuantOperand[] = spec?.operands
      ?? node.inputs.map((_, index) => ({ index, channelAxis: (_n: Node, r: number) => r - 1 }));
    for (const op of operands) {
      const v = node.inputs[op.index];
      if (!v || !isFloatValue(v)) continue;
      const rank = v.type.shape?.length;
      if (v.isConst) {
        if (!w || !op.weight) continue;
        const layout = rank === undefined ? undefined : op.weight(node, rank);
        plan.weights.push({ node, graph, input: op.index, value: v, scheme: weightScheme(w, v, layout, node, plan.notes), rounding: w.rounding });
        continue;
      }
      // already quantized (q.dequantize, q.log2_fake_quant, a kept DequantizeLinear): leave it be
      const p = v.producer?.op;
      if (p && (p.startsWith('q.') || p === 'onnx.DequantizeLinear')) continue;
      // unknown rank (rare after type inference): -1, the last axis
      const axis = rank === undefined ? -1 : op.channelAxis(node, rank);
      if (spec && rank !== 0 && !channelSeen.has(v)) {
        channelSeen.add(v);
        plan.channels.push({ value: v, axis });
      }
      if (!a) continue;
      const key = `${id(v)}@${id(graph)}`;
      const prev = byValue.get(key);
      const scheme: QuantScheme = a.granularity === 'channel' && rank !== 0
        ? { format: a.type, symmetric: a.symmetric, granularity: 'channel', axis }
        : { format: a.type, symmetric: a.symmetric, granularity: 'tensor' };
      if (prev) {
        if (prev.scheme.format !== scheme.format || prev.scheme.symmetric !== scheme.symmetric || prev.mode !== a.mode) {
          plan.notes.push(`activation '${v.name}': ${node.describe()} asks for ${a.mode} ${scheme.format}, ${prev.consumers[0]!.describe()} for ${prev.mode} ${prev.scheme.format}; the first is kept`);
        }
        if (!prev.consumers.includes(node)) prev.consumers.push(node);
        continue;
      }
      const observer: ObserverOptions = { ...a.observer };
      if (scheme.granularity === 'channel') observer.axis = scheme.axis;
      const entry: PlannedActivation = { value: v, graph, scheme, observer, mode: a.mode, consumers: [node] };
      byValue.set(key, entry);
      plan.activations.push(entry);
    }
  });
  return plan;
}
