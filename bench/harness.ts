/**
 * @fileoverview Shared pieces of the WASM benchmarks (bench/compile.ts, bench/gemm.ts,
 * bench/kernels.ts): `lutra` run in-process, the two ONNX Runtime peers (onnxruntime-node, and
 * onnxruntime-web's WASM backend run in Node) with one thread, timing by alternating rounds with
 * medians, and markdown tables.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import { f16BitsToNumber, numberToF16Bits } from '../src/ir/dtype.js';
import type { Tensor } from '../src/ir/tensor.js';
import { loadOrt } from '../src/ort.js';
import type { Manifest } from '../src/runtime/executor.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CORPUS = process.env.LUTRA_SHARED ? join(process.env.LUTRA_SHARED, 'corpus') : resolve(ROOT, '../shared/corpus');

/** Run `lutra argv…` in-process; its output is captured, not printed. */
export async function lutraCli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  let stdout = '';
  let stderr = '';
  const t0 = performance.now();
  const code = await main(argv, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; } });
  return { code, stdout, stderr, seconds: (performance.now() - t0) / 1000 };
}

/** The part of the WebAssembly JS API used here (the project's lib setting omits its types). */
declare const WebAssembly: { instantiate(bytes: Uint8Array): Promise<{ instance: { exports: Record<string, unknown> } }> };

/** A raw artifact instance: its `run` export with weights written, no JS copies around it. */
export interface RawArtifact {
  readonly manifest: Manifest;
  readonly memory: Uint8Array;
  readonly run: () => void;
  readonly exports: Record<string, unknown>;
}

/** Instantiate an artifact's module from its parts, bypassing the runtime (kernel time only). */
export async function instantiateRaw(manifest: Manifest, wasm: Uint8Array, weights: Uint8Array): Promise<RawArtifact> {
  const { instance } = await WebAssembly.instantiate(wasm);
  const memory = new Uint8Array((instance.exports.memory as { buffer: ArrayBuffer }).buffer);
  memory.set(weights, manifest.memory.weightsOffset);
  return { manifest, memory, run: instance.exports.run as () => void, exports: instance.exports };
}

/** instantiateRaw on an artifact directory. */
export async function loadRaw(dir: string): Promise<RawArtifact> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  return instantiateRaw(manifest, readFileSync(join(dir, manifest.files.wasm)), readFileSync(join(dir, manifest.files.weights)));
}

/** The subset of the onnxruntime-common API both peers share. */
interface OrtLike {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => unknown;
  InferenceSession: { create(model: Uint8Array, opts: Record<string, unknown>): Promise<OrtSession> };
}
interface OrtSession { inputNames: readonly string[]; outputNames: readonly string[]; run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>; release(): Promise<void> }

export type PeerName = 'ort-web' | 'ort-node';

/** A peer session with its feeds built once, so a call times `session.run` alone. */
export interface Peer {
  readonly name: PeerName;
  run(): Promise<Record<string, { data: unknown }>>;
  /** The first output as numbers (to check the peers agree). */
  first(out: Record<string, { data: unknown }>): ArrayLike<number>;
  release(): Promise<void>;
}

let ortWeb: Promise<OrtLike> | undefined;

/**
 * onnxruntime-web in Node: its package resolves to the Node build (dist/ort.node.min.mjs), which
 * loads dist/ort-wasm-simd-threaded.wasm from its own folder (no wasmPaths needed, no network).
 * One thread, SIMD on: the configuration a page without cross-origin isolation gets.
 */
export function loadOrtWeb(): Promise<OrtLike> {
  ortWeb ??= import('onnxruntime-web').then((ort) => {
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.simd = true;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return ort as unknown as OrtLike;
  });
  return ortWeb;
}

const ORT_TYPE: Record<string, string> = { f32: 'float32', f16: 'float16', i64: 'int64', i32: 'int32', i8: 'int8', u8: 'uint8', bool: 'bool' };

/**
 * Open `model` (ONNX bytes) in a peer with one thread and full graph optimization, feeding
 * `inputs` in graph-input order. undefined when onnxruntime-node is not installed.
 */
export async function openPeer(name: PeerName, model: Uint8Array, inputs: readonly Tensor[]): Promise<Peer | undefined> {
  const ort = name === 'ort-web' ? await loadOrtWeb() : ((await loadOrt()) as unknown as OrtLike | undefined);
  if (!ort) return undefined;
  const opts = name === 'ort-web'
    ? { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 }
    // as src/ort.ts: int4 weight-only MatMuls keep float activations (ORT's default level 4 quantizes them to int8)
    : { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3,
      extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } };
  const s = await ort.InferenceSession.create(model, opts);
  const feeds: Record<string, unknown> = {};
  s.inputNames.forEach((n, i) => {
    const t = inputs[i]!;
    const type = ORT_TYPE[t.dtype];
    if (!type) throw new Error(`${name}: inputs of type ${t.dtype} are not supported here`);
    const data = t.dtype === 'bool' ? Uint8Array.from(t.data as Uint8Array) : t.dtype === 'f16' ? Uint16Array.from(t.data as Float32Array, numberToF16Bits) : t.data;
    feeds[n] = new ort.Tensor(type, data, [...t.shape]);
  });
  return {
    name,
    run: () => s.run(feeds),
    // float16 outputs come back as their bits
    first: (out) => {
      const o = out[s.outputNames[0]!]! as { type?: string; data: ArrayLike<number> };
      return o.type === 'float16' ? Array.from(o.data, f16BitsToNumber) : o.data;
    },
    release: () => s.release(),
  };
}

/** Something to time: one call is one batch-1 inference (or one kernel run). */
export interface Contender {
  readonly name: string;
  run(): unknown;
}

export interface TimingOptions {
  /** Calls per contender before timing starts. */
  readonly warmup?: number;
  /** Milliseconds of timed calls per contender (spread over the rounds). */
  readonly budgetMs?: number;
  readonly minRounds?: number;
  readonly maxRounds?: number;
}

/**
 * Median milliseconds per call of each contender, measured in alternating rounds (each round runs
 * every contender once, in a rotating order) so that load from other processes and thermal drift
 * hit all of them alike. A round times a group of calls sized to about 2 ms, so sub-microsecond
 * timer resolution does not matter for tiny models.
 */
export async function alternate(cs: readonly Contender[], o: TimingOptions = {}): Promise<number[]> {
  const warmup = o.warmup ?? 5;
  const group: number[] = [];
  for (const c of cs) {
    for (let i = 0; i < warmup; i++) await c.run();
    const t0 = performance.now();
    await c.run();
    const once = Math.max(performance.now() - t0, 0.001);
    group.push(Math.max(1, Math.round(2 / once)));
  }
  const samples: number[][] = cs.map(() => []);
  const budget = o.budgetMs ?? 1500;
  const spent = cs.map(() => 0);
  const maxRounds = o.maxRounds ?? 200;
  const minRounds = o.minRounds ?? 7;
  for (let r = 0; r < maxRounds; r++) {
    for (let j = 0; j < cs.length; j++) {
      const i = (j + r) % cs.length;
      const c = cs[i]!;
      const t0 = performance.now();
      for (let k = 0; k < group[i]!; k++) await c.run();
      const dt = performance.now() - t0;
      spent[i]! += dt;
      samples[i]!.push(dt / group[i]!);
    }
    if (r + 1 >= minRounds && spent.every((s) => s >= budget)) break;
  }
  return samples.map(median);
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

/** Milliseconds with a sensible number of digits. */
export const ms = (x: number | undefined): string => (x === undefined ? '-' : x < 0.1 ? x.toFixed(4) : x < 10 ? x.toFixed(3) : x.toFixed(1));

/** `a / b` as "1.23×", or '-'. */
export const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? '-' : `${(a / b).toFixed(2)}×`);

/** A markdown table: numbers right-aligned, the columns named in `left` (default the first) left-aligned. */
export function markdownTable(rows: readonly (readonly string[])[], left: readonly number[] = [0]): string {
  const widths = rows[0]!.map((_, c) => Math.max(3, ...rows.map((r) => r[c]?.length ?? 0)));
  const line = (r: readonly string[]) => `| ${r.map((x, c) => (left.includes(c) ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (left.includes(c) ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(rows[0]!), rule, ...rows.slice(1).map(line)].join('\n');
}

/** The first line of a lutra error output, without its 'lutra: error: ' prefix. */
export const firstLine = (s: string): string => s.trim().split('\n')[0]!.replace(/^lutra: error: /, '');
