/**
 * Import → export of every corpus model must run in ONNX Runtime with the original's outputs
 * (bitwise, or within 1e-6 relative), on the model's stored eval inputs. The same holds, within
 * 1e-5 of each output's largest magnitude, after the whole optimization pipeline: fused ops
 * (onnx.Gelu, onnx.LayerNormalization, fused.MatMulAdd expanded back) must export so ORT runs them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../src/frontends/onnx/export.js';
import { runPipeline } from '../../src/passes/manager.js';
import '../../src/passes/index.js';
import { loadOnnx } from '../../src/frontends/onnx/import.js';
import { readDataDir } from '../../src/frontends/onnx/testdata.js';
import { numberToF16Bits } from '../../src/ir/dtype.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { corpusModels, HAS_SHARED } from '../helpers/shared.js';

const ORT_TYPE: Record<string, ort.Tensor.Type> = {
  f32: 'float32', f64: 'float64', f16: 'float16', i64: 'int64', i32: 'int32', i16: 'int16', i8: 'int8', u8: 'uint8', u16: 'uint16', bool: 'bool',
};

function toOrt(t: Tensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new Error(`no ORT type for ${t.dtype}`);
  if (t.dtype === 'f16') return new ort.Tensor(type, Uint16Array.from(t.data as Float32Array, numberToF16Bits), [...t.shape]);
  return new ort.Tensor(type, t.data as never, [...t.shape]);
}

/** Why two ORT outputs differ beyond 1e-6 relative (NaN equal to NaN); undefined when they agree. */
function difference(a: ort.Tensor, b: ort.Tensor): string | undefined {
  if (a.type !== b.type || a.dims.join() !== b.dims.join()) return `${a.type}[${a.dims}] vs ${b.type}[${b.dims}]`;
  const x = a.data as ArrayLike<number | bigint>;
  const y = b.data as ArrayLike<number | bigint>;
  for (let i = 0; i < x.length; i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p === q || (Number.isNaN(p) && Number.isNaN(q))) continue;
    if (typeof p === 'number' && typeof q === 'number' && Math.abs(p - q) <= 1e-6 * Math.max(Math.abs(p), Math.abs(q))) continue;
    return `element ${i}: ${p} vs ${q}`;
  }
  return undefined;
}

function dataDir(dir: string): string {
  return existsSync(join(dir, 'eval')) ? join(dir, 'eval') : join(dir, 'data');
}

describe.skipIf(!HAS_SHARED)('corpus round trip through ONNX Runtime', () => {
  it.each(corpusModels().map((m) => [m.name, m.dir] as const))('%s', async (_, dir) => {
    const original = readFileSync(join(dir, 'model.onnx'));
    const exported = exportOnnx(loadOnnx(join(dir, 'model.onnx')));
    const [set] = readDataDir(dataDir(dir));
    const a = await ort.InferenceSession.create(original);
    const b = await ort.InferenceSession.create(exported);
    expect(b.inputNames).toEqual(a.inputNames);
    const feeds = Object.fromEntries(a.inputNames.map((name, i) => [name, toOrt(set!.inputs[i]!)]));
    const ra = await a.run(feeds);
    const rb = await b.run(feeds);
    expect(b.outputNames).toEqual(a.outputNames);
    const diffs = a.outputNames.map((name) => [name, difference(ra[name]!, rb[name]!)]).filter(([, d]) => d !== undefined);
    expect(diffs).toEqual([]);
  }, 600_000);
});

/** Largest |a - b| relative to max |a| over all elements. */
function scaledError(a: ort.Tensor, b: ort.Tensor): number {
  const x = Array.from(a.data as ArrayLike<number>, Number);
  const y = Array.from(b.data as ArrayLike<number>, Number);
  let scale = Number.MIN_VALUE;
  for (const v of x) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  x.forEach((v, i) => { if (!(Number.isNaN(v) && Number.isNaN(y[i]!))) worst = Math.max(worst, Math.abs(v - y[i]!) / scale); });
  return worst;
}

const PIPELINE = 'canonicalize,fold-constants,fold-batchnorm,fuse-gelu,fuse-layernorm,fuse-rmsnorm,fuse-matmul-add,cse,dce';

describe.skipIf(!HAS_SHARED)(`corpus after "${PIPELINE}" through ONNX Runtime`, () => {
  it.each(corpusModels().map((m) => [m.name, m.dir] as const))('%s', async (_, dir) => {
    const model = loadOnnx(join(dir, 'model.onnx'));
    await runPipeline(model, PIPELINE, { verifyEach: true });
    const [set] = readDataDir(dataDir(dir));
    const a = await ort.InferenceSession.create(readFileSync(join(dir, 'model.onnx')));
    const b = await ort.InferenceSession.create(exportOnnx(model));
    const feeds = Object.fromEntries(a.inputNames.map((name, i) => [name, toOrt(set!.inputs[i]!)]));
    const ra = await a.run(feeds);
    const rb = await b.run(feeds);
    const errors = a.outputNames.map((name) => [name, scaledError(ra[name]!, rb[name]!)] as const).filter(([, e]) => !(e <= 1e-5));
    expect(errors).toEqual([]);
  }, 600_000);
});
