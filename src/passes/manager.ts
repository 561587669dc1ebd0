/**
 * @fileoverview The pass manager: the pass registry, the pipeline syntax
 * (`canonicalize,fold-constants,smooth-quant{alpha=0.5,auto=true}`), running a pipeline with
 * verification, IR dumps, timing and rule traces, and loading plugin modules (`--plugin`).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LutraError, isLutraError } from '../ir/diagnostics.js';
import type { Model } from '../ir/graph.js';
import { printModel } from '../ir/text/printer.js';
import { verify } from '../ir/verifier.js';
import { applyRules } from '../rewrite/driver.js';
import type { RuleSet } from '../rewrite/rule.js';

export type OptionType = 'number' | 'string' | 'boolean';
type OptionJs<T extends OptionType> = T extends 'number' ? number : T extends 'string' ? string : boolean;

/** One typed pass option: its type, default and a one-line doc. */
export type OptionSpec = { [T in OptionType]: { readonly type: T; readonly default: OptionJs<T>; readonly doc: string } }[OptionType];
export type OptionSchema = Readonly<Record<string, OptionSpec>>;
/** The option values a pass receives, typed from its schema. */
export type OptionValues<S extends OptionSchema> = { -readonly [K in keyof S]: OptionJs<S[K]['type']> };

export interface PassContext {
  /** Diagnostics and notes for the user (stderr in the CLI). */
  log(line: string): void;
  /** Calibration data directory of the run (`lutra quantize --calib`), for passes that measure activations. */
  calib?: string;
  /** At most this many calibration samples. */
  samples?: number;
  /** Set when tracing: receives which rewrite rule fired or why it did not match. */
  trace?: (line: string) => void;
}

export interface Pass<S extends OptionSchema = OptionSchema> {
  /** kebab-case; the `--passes` name, the source file name and the test folder. */
  readonly name: string;
  readonly summary: string;
  /** What the IR looks like before → after. */
  readonly description: string;
  readonly options: S;
  run(model: Model, options: OptionValues<S>, ctx: PassContext): void | Promise<void>;
}

/** Identity helper that types `run`'s options from the schema. */
export function definePass<const S extends OptionSchema>(pass: Pass<S>): Pass<S> {
  return pass;
}

const MAX_ITERATIONS = { type: 'number', default: 10, doc: 'sweeps of the rewrite driver before it gives up on a fixpoint' } as const;

/** A pass that applies a rule set with the greedy driver; it has a `max-iterations` option. */
export function rewritePass(p: { name: string; summary: string; description: string; rules: RuleSet }): Pass<{ 'max-iterations': typeof MAX_ITERATIONS }> {
  return definePass({
    name: p.name,
    summary: p.summary,
    description: p.description,
    options: { 'max-iterations': MAX_ITERATIONS },
    run(model, options, ctx) {
      const r = applyRules(model.graph, p.rules, { maxIterations: options['max-iterations'], trace: ctx.trace });
      if (!r.converged) ctx.log(`${p.name}: no fixpoint after ${r.iterations} iterations (${r.applied} rewrites)`);
    },
  });
}

// Passes of every option schema share one registry.
type AnyPass = Pass<any>;
const PASSES = new Map<string, AnyPass>();
const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Register a pass under its name; registering the same pass object again is a no-op. */
export function registerPass(pass: AnyPass): void {
  if (!KEBAB.test(pass.name)) throw new LutraError('pass', `pass name '${pass.name}' is not kebab-case`);
  const prev = PASSES.get(pass.name);
  if (prev === pass) return;
  if (prev) throw new LutraError('pass', `a pass named '${pass.name}' is already registered`);
  for (const [k, o] of Object.entries(pass.options as OptionSchema)) {
    if (typeof o.default !== o.type) throw new LutraError('pass', `option '${k}' of pass '${pass.name}' has a default that is not a ${o.type}`);
  }
  PASSES.set(pass.name, pass);
}

export function getPass(name: string): AnyPass | undefined {
  return PASSES.get(name);
}

/** Every registered pass, by name. */
export function allPasses(): AnyPass[] {
  return [...PASSES.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** One pipeline element: a pass and its option values (defaults filled in). */
export interface PipelineStep {
  readonly pass: AnyPass;
  readonly options: Record<string, number | string | boolean>;
}

function usage(message: string): LutraError {
  return new LutraError('usage', message);
}

/** Split on `sep` outside `{…}`. */
function splitTop(s: string, sep: string, pipeline: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth < 0) throw usage(`unbalanced '}' in pipeline "${pipeline}"`);
    else if (c === sep && depth === 0) { parts.push(s.slice(start, i)); start = i + 1; }
  }
  if (depth !== 0) throw usage(`unclosed '{' in pipeline "${pipeline}"`);
  parts.push(s.slice(start));
  return parts;
}

function parseOption(pass: AnyPass, key: string, raw: string): number | string | boolean {
  const spec = (pass.options as OptionSchema)[key];
  if (!spec) {
    const known = Object.keys(pass.options);
    throw usage(`pass '${pass.name}' has no option '${key}' (${known.length ? `options: ${known.join(', ')}` : 'it takes no options'})`);
  }
  const bad = () => usage(`option '${key}' of pass '${pass.name}' must be a ${spec.type}, got '${raw}'`);
  switch (spec.type) {
    case 'number': {
      const n = Number(raw);
      if (raw === '' || !Number.isFinite(n)) throw bad();
      return n;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw bad();
      return raw === 'true';
    case 'string':
      return /^".*"$/.test(raw) ? (JSON.parse(raw) as string) : raw;
  }
}

/** Parse `name{key=value,…},name,…`; errors name the unknown pass, option or bad value. */
export function parsePipeline(pipeline: string): PipelineStep[] {
  if (pipeline.trim() === '') return [];
  return splitTop(pipeline, ',', pipeline).map((part) => {
    const m = /^\s*([^{}\s]*)\s*(?:\{(.*)\})?\s*$/s.exec(part);
    if (!m || m[1] === '') throw usage(`malformed pipeline element '${part.trim()}' in "${pipeline}" (expected name or name{key=value,...})`);
    const name = m[1]!;
    const pass = PASSES.get(name);
    if (!pass) throw usage(`unknown pass '${name}' (see 'lutra passes'; known: ${allPasses().map((p) => p.name).join(', ')})`);
    const options: Record<string, number | string | boolean> = {};
    for (const [k, o] of Object.entries(pass.options as OptionSchema)) options[k] = o.default;
    if (m[2] !== undefined && m[2].trim() !== '') {
      for (const kv of splitTop(m[2], ',', pipeline)) {
        const eq = kv.indexOf('=');
        if (eq < 0) throw usage(`option '${kv.trim()}' of pass '${name}' needs a value (key=value)`);
        const key = kv.slice(0, eq).trim();
        options[key] = parseOption(pass, key, kv.slice(eq + 1).trim());
      }
    }
    return { pass, options };
  });
}

export interface RunOptions {
  /** Run the IR verifier after every pass. */
  verifyEach?: boolean;
  /** Print the IR (weights elided) after each run of these passes. */
  printAfter?: readonly string[];
  printAfterAll?: boolean;
  /** Log the time each pass took. */
  timing?: boolean;
  /** Log rewrite rule traces. */
  trace?: boolean;
  /** Where dumps, timings, traces and pass notes go (default: nowhere). */
  log?: (s: string) => void;
  /** Calibration data for passes that measure activations (PassContext.calib). */
  calib?: string;
  samples?: number;
}

export interface PassTiming {
  readonly pass: string;
  readonly ms: number;
}

/** Run a pipeline (text or parsed) over `model` in place; returns each pass's wall time. */
export async function runPipeline(model: Model, pipeline: string | readonly PipelineStep[], opts: RunOptions = {}): Promise<PassTiming[]> {
  const steps = typeof pipeline === 'string' ? parsePipeline(pipeline) : pipeline;
  const log = opts.log ?? (() => {});
  for (const name of opts.printAfter ?? []) {
    if (!PASSES.has(name)) throw usage(`--print-after names unknown pass '${name}'`);
  }
  const timings: PassTiming[] = [];
  for (const { pass, options } of steps) {
    const ctx: PassContext = { log, calib: opts.calib, samples: opts.samples, trace: opts.trace ? (line) => log(`[${pass.name}] ${line}`) : undefined };
    const t0 = performance.now();
    try {
      await pass.run(model, options, ctx);
    } catch (e) {
      if (isLutraError(e)) throw new LutraError(e.code, `in pass '${pass.name}': ${e.message}`);
      throw e;
    }
    timings.push({ pass: pass.name, ms: performance.now() - t0 });
    if (opts.verifyEach) {
      try {
        verify(model.graph);
      } catch (e) {
        if (isLutraError(e)) throw new LutraError('verify', `the IR is invalid after pass '${pass.name}': ${e.message}`);
        throw e;
      }
    }
    if (opts.printAfterAll || opts.printAfter?.includes(pass.name)) {
      log(`// IR after ${pass.name}\n${printModel(model, { weights: 'elide' })}`);
    }
  }
  if (opts.timing) log(formatTimings(timings));
  return timings;
}

/** A small table: one line per pass, then the total. */
export function formatTimings(timings: readonly PassTiming[]): string {
  const w = Math.max(5, ...timings.map((t) => t.pass.length));
  const total = timings.reduce((s, t) => s + t.ms, 0);
  const row = (name: string, ms: number) => `  ${name.padEnd(w)}  ${ms.toFixed(2).padStart(9)} ms`;
  return ['pass timing:', ...timings.map((t) => row(t.pass, t.ms)), row('total', total)].join('\n');
}

const isPass = (x: unknown): x is AnyPass =>
  typeof x === 'object' && x !== null && typeof (x as AnyPass).name === 'string' && typeof (x as AnyPass).run === 'function'
  && typeof (x as AnyPass).options === 'object';

let tsLoader: Promise<unknown> | undefined;

/** TypeScript plugins load through tsx's ESM loader, registered once on first use. */
function registerTsLoader(): Promise<unknown> {
  tsLoader ??= import('tsx/esm/api').then((m) => m.register());
  return tsLoader;
}

/**
 * Import a plugin module and register the passes it exports (each export may be a pass or an
 * array of passes). `.ts` plugins are loaded through tsx, so users need no build step.
 * Returns the passes registered.
 */
export async function loadPlugin(path: string): Promise<AnyPass[]> {
  let mod: Record<string, unknown>;
  try {
    if (/\.[cm]?ts$/.test(path) && !process.execArgv.some((a) => a.includes('tsx'))) await registerTsLoader();
    mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new LutraError('usage', `cannot load plugin: ${err.message.split('\n')[0]}`, path);
  }
  const found = Object.values(mod).flatMap((x) => (Array.isArray(x) ? x : [x])).filter(isPass);
  if (found.length === 0) throw new LutraError('usage', 'the plugin exports no passes (export a pass or an array of passes)', path);
  const unique = [...new Set(found)];
  for (const p of unique) registerPass(p);
  return unique;
}
