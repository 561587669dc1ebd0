/**
 * @fileoverview The Lutra artifact runtime: loads an artifact directory (manifest.json,
 * weights.bin, model.wasm) from a URL or a path and runs it. Dependency-free and
 * self-contained (no imports): `lutra compile` copies this file into every artifact as
 * runtime.js, and it runs unchanged in Node (fs for paths and file: URLs) and in browsers (fetch).
 */

/** Element types of artifact inputs and outputs. */
export type ArtifactDType = 'f32' | 'i64' | 'i32' | 'i16' | 'u16' | 'i8' | 'u8' | 'bool';

/** The array type that holds each element type. */
export type ArrayOf<D extends ArtifactDType> = { f32: Float32Array; i64: BigInt64Array; i32: Int32Array; i16: Int16Array; u16: Uint16Array; i8: Int8Array; u8: Uint8Array; bool: Uint8Array }[D];
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
  readonly kernels: readonly { name: string; summary: string; buffers: Readonly<Record<string, string>> }[];
  /** Quantized compiles: the recipe and the QDQ model (ONNX) the kernels implement. */
  readonly quant: { readonly recipe: string; readonly qdq: string } | null;
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
  f32: Float32Array, i64: BigInt64Array, i32: Int32Array, i16: Int16Array, u16: Uint16Array, i8: Int8Array, u8: Uint8Array, bool: Uint8Array,
} as const;

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
  if (weights.length !== manifest.memory.weightsBytes) throw new ArtifactError(`${manifest.files.weights}: ${weights.length} bytes, the manifest says ${manifest.memory.weightsBytes}`);
  const { instance } = await WebAssembly.instantiate(wasm);
  const memory = instance.exports.memory as WasmMemory;
  const runWasm = instance.exports.run as () => void;
  new Uint8Array(memory.buffer).set(weights, manifest.memory.weightsOffset);
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
        const per = perSample(io, batch) * a.BYTES_PER_ELEMENT;
        const src = new Uint8Array(a.buffer, a.byteOffset + start * per, count * per);
        bytes.set(src, io.offset);
        if (count < chunk) bytes.fill(0, io.offset + count * per, io.offset + io.bytes);
      }
      runWasm();
      for (const io of manifest.outputs) {
        const o = outs[io.name]!;
        const per = perSample(io, batch) * o.BYTES_PER_ELEMENT;
        new Uint8Array(o.buffer, start * per, count * per).set(bytes.subarray(io.offset, io.offset + count * per));
      }
    }
    return outs;
  }

  return { manifest, inputNames: manifest.inputs.map((i) => i.name), outputNames: manifest.outputs.map((o) => o.name), run };
}
