/**
 * @fileoverview ONNX Runtime as a peer: run a model file with onnxruntime-node when it is
 * installed (it is an optional dependency), converting Lutra tensors in and out. `eval`,
 * `quantize` and the tests use it to check that exported QDQ models run and agree.
 */
import { LutraError } from './ir/diagnostics.js';
import { f16BitsToNumber, numberToF16Bits, type DType } from './ir/dtype.js';
import { Tensor } from './ir/tensor.js';

type Ort = typeof import('onnxruntime-node');
type OrtTensor = import('onnxruntime-node').Tensor;

let cached: Promise<Ort | undefined> | undefined;

/** onnxruntime-node, or undefined when it is not installed (or LUTRA_NO_ORT=1). */
export function loadOrt(): Promise<Ort | undefined> {
  if (process.env.LUTRA_NO_ORT === '1') return Promise.resolve(undefined);
  cached ??= import('onnxruntime-node').then((m) => (m as { default?: Ort }).default ?? m, () => undefined);
  return cached;
}

const ORT_TYPE: Partial<Record<DType, string>> = {
  f32: 'float32', f64: 'float64', f16: 'float16', i64: 'int64', i32: 'int32', i16: 'int16', i8: 'int8',
  u8: 'uint8', u16: 'uint16', u32: 'uint32', u64: 'uint64', bool: 'bool',
};
const FROM_ORT: Record<string, DType> = Object.fromEntries(Object.entries(ORT_TYPE).map(([k, v]) => [v, k as DType]));

/** A Lutra tensor as an ORT tensor (f16 as bits; the data is shared where the layouts agree). */
export function toOrt(ort: Ort, t: Tensor): OrtTensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new LutraError('unsupported', `ONNX Runtime inputs of type ${t.dtype} are not supported`);
  if (t.dtype === 'f16') return new ort.Tensor('float16', Uint16Array.from(t.data as Float32Array, numberToF16Bits), [...t.shape]);
  if (t.dtype === 'bool') return new ort.Tensor('bool', Uint8Array.from(t.data as ArrayLike<number>), [...t.shape]);
  return new ort.Tensor(type as 'float32', t.data as Float32Array, [...t.shape]);
}

/** An ORT tensor as a Lutra tensor. */
export function fromOrt(t: OrtTensor): Tensor {
  const dtype = FROM_ORT[t.type];
  if (!dtype) throw new LutraError('unsupported', `ONNX Runtime output of type ${t.type} is not supported`);
  const shape = t.dims.map(Number);
  if (dtype === 'f16') {
    const bits = t.data as Uint16Array;
    return new Tensor('f16', shape, Float32Array.from(bits, f16BitsToNumber));
  }
  return Tensor.from(dtype, shape, t.data as ArrayLike<number>);
}

/** An ORT session over a model file or bytes, run on Lutra tensors in graph-input order. */
export interface OrtModel {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Set when the session is not ORT's default one, saying why (print it next to ORT's numbers). */
  readonly note: string | undefined;
  run(inputs: readonly Tensor[]): Promise<Tensor[]>;
  release(): Promise<void>;
}

/**
 * Session options: one thread, and MatMulNBits accuracy level 0. ORT's default (4) makes the
 * DequantizeLinear→MatMul fusion of int4 weights quantize the *activations* to int8 at run time,
 * which is not what a weight-only (w4a16) QDQ model says; level 0 keeps them float.
 */
const sessionOptions = (level: 'all' | 'basic') => ({
  intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 as const, graphOptimizationLevel: level,
  extra: { session: { qdq_matmulnbits_accuracy_level: '0' } },
});

/**
 * Open `model` (path or bytes) in onnxruntime-node, single-threaded; undefined when ORT is not
 * installed. When ORT rejects the graph its own fusions made (it fuses float8 QDQ MatMuls into
 * MatMulIntegerToFloat, which takes no float8), the model is opened again with graph
 * optimization level `basic` and `note` says so.
 */
export async function openOrt(model: string | Uint8Array, what = typeof model === 'string' ? model : 'model'): Promise<OrtModel | undefined> {
  const ort = await loadOrt();
  if (!ort) return undefined;
  let s: import('onnxruntime-node').InferenceSession;
  let note: string | undefined;
  const first = (e: unknown) => (e as Error).message.split('\n')[0]!;
  try {
    s = await ort.InferenceSession.create(model as string, sessionOptions('all'));
  } catch (e) {
    try {
      s = await ort.InferenceSession.create(model as string, sessionOptions('basic'));
      note = `ONNX Runtime rejected its fully optimized graph (${first(e)}); ran with graph optimization level basic`;
    } catch {
      throw new LutraError('runtime', `ONNX Runtime cannot load the model: ${first(e)}`, what);
    }
  }
  return {
    note,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(inputs) {
      const feeds: Record<string, OrtTensor> = {};
      s.inputNames.forEach((n, i) => {
        const t = inputs[i];
        if (!t) throw new LutraError('input', `no value for ONNX Runtime input '${n}'`, what);
        feeds[n] = toOrt(ort, t);
      });
      let out: Record<string, OrtTensor>;
      try {
        out = await s.run(feeds);
      } catch (e) {
        throw new LutraError('runtime', `ONNX Runtime failed: ${(e as Error).message.split('\n')[0]}`, what);
      }
      return s.outputNames.map((n) => fromOrt(out[n]!));
    },
    release: () => s.release(),
  };
}
