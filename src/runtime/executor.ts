/**
 * @fileoverview The Lutra artifact runtime: loads an artifact directory (manifest.json,
 * weights.bin, model.wasm) from a URL or a path and runs it. Dependency-free and
 * self-contained (no imports): `lutra compile` copies this file into every artifact as
 * runtime.js, and it runs unchanged in Node (fs for paths and file: URLs) and in browsers (fetch).
 */

/**
 * Element types of artifact inputs and outputs. `f16` is given and returned as Float32Array:
 * inputs are rounded to the nearest half (ties to even), outputs are exact.
 */
export type ArtifactDType = 'f32' | 'f16' | 'i64' | 'i32' | 'i16' | 'u16' | 'i8' | 'u8' | 'bool';

/** The array type that holds each element type. */
export type ArrayOf<D extends ArtifactDType> = { f32: Float32Array; f16: Float32Array; i64: BigInt64Array; i32: Int32Array; i16: Int16Array; u16: Uint16Array; i8: Int8Array; u8: Uint8Array; bool: Uint8Array }[D];
export type AnyArray = ArrayOf<ArtifactDType>;

export interface ManifestIo {
  readonly name: string;
  readonly dtype: ArtifactDType;
  /** Shape the module was compiled for. */
  readonly shape: readonly number[];
  /** Shape as the source model declares it (symbolic dims kept). */
  readonly declaredShape: readonly (number | string)[];
  readonly offset: number;
  readonly bytes: number;
}

/** A piece of weights.bin and the memory offset it is written to; `f16`: halves widened to f32 there. */
export interface WeightSegment {
  readonly fileOffset: number;
  readonly offset: number;
  /** Bytes in the file. */
  readonly bytes: number;
  readonly f16?: true;
}

export interface Manifest {
  readonly format: 'lutra.artifact';
  readonly version: 1;
  readonly target: 'wasm';
  readonly model: string;
  readonly files: { readonly wasm: string; readonly weights: string };
  readonly memory: { readonly total: number; readonly weightsOffset: number; readonly weightsBytes: number; readonly arenaOffset: number; readonly arenaBytes: number; readonly peakActivationBytes: number };
  /** Inputs and outputs share a leading batch dim: larger batches run in chunks of `compiled`. */
  readonly batch: { readonly symbol: string; readonly compiled: number } | null;
  readonly inputs: readonly ManifestIo[];
  readonly outputs: readonly ManifestIo[];
  readonly buffers: readonly { name: string; kind: string; dtype: string; elements: number; offset: number; bytes: number; live?: readonly [number, number] }[];
  /** Kernels in dispatch order, with the buffer bound to each parameter. */
  /** `when`: the kernel runs only where each bool buffer element equals its value (the branches of an If on input data). */
  readonly kernels: readonly { name: string; summary: string; buffers: Readonly<Record<string, string>>; when?: readonly { buf: string; offset: number; value: boolean }[] }[];
  /** Quantized compiles: the recipe and the QDQ model (ONNX) the kernels implement. */
  readonly quant: { readonly recipe: string; readonly qdq: string } | null;
  /** When weights.bin is not the weights region verbatim (f16 weights stored as halves): where each piece goes. */
  readonly weightsFile?: { readonly bytes: number; readonly segments: readonly WeightSegment[] };
}

/** A bad artifact or bad run inputs (the message names the file, input or output). */
export class ArtifactError extends Error {
  override readonly name = 'ArtifactError';
}

export interface LoadedModel {
  readonly manifest: Manifest;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Run on arrays by input name; a batch larger than the compiled one runs in chunks. */
  run(inputs: Readonly<Record<string, AnyArray>>): Promise<Record<string, AnyArray>>;
}

const CTORS = {
  f32: Float32Array, f16: Float32Array, i64: BigInt64Array, i32: Int32Array, i16: Int16Array, u16: Uint16Array, i8: Int8Array, u8: Uint8Array, bool: Uint8Array,
} as const;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits of an f32 value, round to nearest even (subnormals, overflow to Inf, NaN kept). */
export function f32ToHalfBits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const a = b & 0x7fffffff;
  if (a >= 0x47800000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (a < 0x38800000) {
    // subnormal half: the significand in units of 2^-24, rounded; at most 2^-25 (a tie) is 0
    if (a <= 0x33000000) return sign;
    const shift = 126 - (a >>> 23);
    const mant = (a & 0x7fffff) | 0x800000;
    const q = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (q + (rem > half || (rem === half && (q & 1)) ? 1 : 0));
  }
  return sign | (((a + 0xc8000fff + ((a >>> 13) & 1)) >>> 0) >>> 13) & 0xffff;
}

/** The f32 value of IEEE half bits. */
export function halfBitsToF32(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1024 + m) * 2 ** (e - 25);
}

/** Bytes an element of `dtype` occupies in linear memory. */
const memBytes = (dtype: ArtifactDType): number => (dtype === 'f16' ? 2 : CTORS[dtype].BYTES_PER_ELEMENT);

/** The part of the WebAssembly JS API the runtime uses (the project's lib setting omits the DOM types). */
declare const WebAssembly: {
  instantiate(bytes: Uint8Array): Promise<{ instance: { exports: Record<string, unknown> } }>;
};
interface WasmMemory { readonly buffer: ArrayBuffer }

const isNode = (): boolean => typeof process !== 'undefined' && !!process.versions?.node;

/** `name` resolved against the artifact location (a directory path or URL). */
function locate(base: string | URL, name: string): string | URL {
  if (base instanceof URL) return new URL(name, base.href.endsWith('/') ? base : `${base.href}/`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(base)) return new URL(name, base.endsWith('/') ? base : `${base}/`);
  return `${base.replace(/[\\/]+$/, '')}/${name}`;
}

async function readBytes(where: string | URL): Promise<Uint8Array> {
  const local = typeof where === 'string' || where.protocol === 'file:';
  if (local && isNode()) {
    const fs = await import('node:fs/promises');
    try {
      return new Uint8Array(await fs.readFile(where));
    } catch (e) {
      throw new ArtifactError(`${String(where)}: cannot read file: ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
  }
  const r = await fetch(where);
  if (!r.ok) throw new ArtifactError(`${String(where)}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

const perSample = (io: ManifestIo, batch: Manifest['batch']): number =>
  io.shape.slice(batch ? 1 : 0).reduce((a, b) => a * b, 1);

/** Load the artifact at `source` (its directory, as a path or URL). */
export async function loadArtifact(source: string | URL): Promise<LoadedModel> {
  const text = new TextDecoder().decode(await readBytes(locate(source, 'manifest.json')));
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new ArtifactError(`${String(locate(source, 'manifest.json'))}: not JSON (${(e as Error).message})`);
  }
  if (manifest.format !== 'lutra.artifact' || manifest.version !== 1) throw new ArtifactError(`${String(locate(source, 'manifest.json'))}: not a Lutra artifact manifest (version 1)`);
  const [wasm, weights] = await Promise.all([readBytes(locate(source, manifest.files.wasm)), readBytes(locate(source, manifest.files.weights))]);
  return instantiateArtifact(manifest, wasm, weights);
}

/** An artifact from its parts already in memory (what `loadArtifact` does after reading the files). */
export async function instantiateArtifact(manifest: Manifest, wasm: Uint8Array, weights: Uint8Array): Promise<LoadedModel> {
  const layout = manifest.weightsFile;
  const fileBytes = layout ? layout.bytes : manifest.memory.weightsBytes;
  if (weights.length !== fileBytes) throw new ArtifactError(`${manifest.files.weights}: ${weights.length} bytes, the manifest says ${fileBytes}`);
  const { instance } = await WebAssembly.instantiate(wasm);
  const memory = instance.exports.memory as WasmMemory;
  const runWasm = instance.exports.run as () => void;
  if (!layout) new Uint8Array(memory.buffer).set(weights, manifest.memory.weightsOffset);
  for (const s of layout?.segments ?? []) {
    if (!s.f16) { new Uint8Array(memory.buffer).set(weights.subarray(s.fileOffset, s.fileOffset + s.bytes), s.offset); continue; }
    const dst = new Float32Array(memory.buffer, s.offset, s.bytes / 2);
    for (let i = 0; i < dst.length; i++) dst[i] = halfBitsToF32(weights[s.fileOffset + 2 * i]! | (weights[s.fileOffset + 2 * i + 1]! << 8));
  }
  const batch = manifest.batch;

  async function run(inputs: Readonly<Record<string, AnyArray>>): Promise<Record<string, AnyArray>> {
    let samples: number | undefined;
    for (const io of manifest.inputs) {
      const a = inputs[io.name];
      if (!a) throw new ArtifactError(`no value given for input '${io.name}' (inputs: ${manifest.inputs.map((i) => i.name).join(', ')})`);
      if (!(a instanceof CTORS[io.dtype])) throw new ArtifactError(`input '${io.name}' must be a ${CTORS[io.dtype].name} (${io.dtype})`);
      const per = perSample(io, batch);
      const n = batch ? a.length / per : 1;
      if (!Number.isInteger(n) || n < 1 || (!batch && a.length !== per)) {
        throw new ArtifactError(`input '${io.name}' has ${a.length} elements; expected ${batch ? `a multiple of ${per}` : per} for shape [${io.declaredShape.join(',')}]`);
      }
      if (samples !== undefined && samples !== n) throw new ArtifactError(`inputs disagree on the batch size (${samples} and ${n})`);
      samples = n;
    }
    const total = samples ?? 1;
    const chunk = batch ? batch.compiled : 1;
    const outs: Record<string, AnyArray> = {};
    for (const io of manifest.outputs) outs[io.name] = new CTORS[io.dtype](perSample(io, batch) * total);
    const bytes = new Uint8Array(memory.buffer);
    for (let start = 0; start < total; start += chunk) {
      const count = Math.min(chunk, total - start);
      for (const io of manifest.inputs) {
        const a = inputs[io.name]!;
        const n = perSample(io, batch);
        const per = n * memBytes(io.dtype);
        if (io.dtype === 'f16') {
          const src = a as Float32Array;
          const dst = new Uint16Array(memory.buffer, io.offset, count * n);
          for (let i = 0; i < count * n; i++) dst[i] = f32ToHalfBits(src[start * n + i]!);
        } else {
          bytes.set(new Uint8Array(a.buffer, a.byteOffset + start * per, count * per), io.offset);
        }
        if (count < chunk) bytes.fill(0, io.offset + count * per, io.offset + io.bytes);
      }
      runWasm();
      for (const io of manifest.outputs) {
        const o = outs[io.name]!;
        const n = perSample(io, batch);
        const per = n * memBytes(io.dtype);
        if (io.dtype === 'f16') {
          const src = new Uint16Array(memory.buffer, io.offset, count * n);
          const dst = o as Float32Array;
          for (let i = 0; i < count * n; i++) dst[start * n + i] = halfBitsToF32(src[i]!);
        } else {
          new Uint8Array(o.buffer, start * per, count * per).set(bytes.subarray(io.offset, io.offset + count * per));
        }
      }
    }
    return outs;
  }

  return { manifest, inputNames: manifest.inputs.map((i) => i.name), outputNames: manifest.outputs.map((o) => o.name), run };
}
