import { describe, expect, it } from 'vitest';
import { Node, Tensor, roundHalfEven, type Attrs } from '../../../src/ir/index.js';
import { getKernel } from '../../../src/interp/kernel.js';
import '../../../src/interp/kernels/index.js';
import {
  type QuantFormat, type QuantParams, type QuantScheme, dequantize, dyadic, fakeQuant, formatInfo, paramsForTensor, paramsFromRange, quantize,
  requantize, sqnr,
} from '../../../src/quant/quantizer.js';
import { rng } from '../../helpers/random.js';


const ctx = { runSubgraph: () => [], weight: (): never => { throw new Error('no weights here'); } };

/** QDQ attributes the interpreter needs to read `p` the way quantize() does. */
function qdqAttrs(p: QuantParams): Attrs {
  const { granularity, axis, group } = p.scheme;
  if (granularity === 'tensor') return {};
  return granularity === 'group' ? { axis: axis ?? 1, block_size: group! } : { axis: axis ?? 1 };
}

/** The interpreter's onnx.QuantizeLinear on (x, scale, zero point). */
function refQuantize(x: Tensor, p: QuantParams): Tensor {
  const { storage } = formatInfo(p.scheme.format);
  const node = new Node('onnx.QuantizeLinear', [], [], qdqAttrs(p));
  return getKernel('onnx.QuantizeLinear')!([x, new Tensor('f32', p.shape, p.scale), Tensor.from(storage, p.shape, p.zero)], node, ctx)[0]!;
}

/** The interpreter's onnx.DequantizeLinear on (q, scale, zero point). */
function refDequantize(q: Tensor, p: QuantParams): Tensor {
  const node = new Node('onnx.DequantizeLinear', [], [], qdqAttrs(p));
  return getKernel('onnx.DequantizeLinear')!([q, new Tensor('f32', p.shape, p.scale), Tensor.from(q.dtype, p.shape, p.zero)], node, ctx)[0]!;
}

const FORMATS: QuantFormat[] = ['int8', 'uint8', 'int4', 'uint4', 'int16', 'fp8e4m3'];

describe('formatInfo', () => {
  it('gives the storage dtype and range of every format', () => {
    expect(FORMATS.map((f) => formatInfo(f))).toEqual([
      { storage: 'i8', qmin: -128, qmax: 127 }, { storage: 'u8', qmin: 0, qmax: 255 }, { storage: 'i4', qmin: -8, qmax: 7 },
      { storage: 'u4', qmin: 0, qmax: 15 }, { storage: 'i16', qmin: -32768, qmax: 32767 }, { storage: 'f8e4m3', qmin: -448, qmax: 448 },
    ]);
  });

  it('holds 6- and 3-bit formats in 8- and 4-bit storage with a narrowed range', () => {
    expect((['int6', 'uint6', 'int3', 'uint3'] as QuantFormat[]).map((f) => formatInfo(f))).toEqual([
      { storage: 'i8', qmin: -32, qmax: 31, bits: 6 }, { storage: 'u8', qmin: 0, qmax: 63, bits: 6 },
      { storage: 'i4', qmin: -4, qmax: 3, bits: 3 }, { storage: 'u4', qmin: 0, qmax: 7, bits: 3 },
    ]);
  });
});

describe('paramsFromRange', () => {
  const sch = (format: QuantFormat, symmetric: boolean): QuantScheme => ({ format, symmetric, granularity: 'tensor' });
  const zeroIsExact = (p: QuantParams) => expect(fakeQuant(Tensor.scalar('f32', 0), p).get(0)).toBe(0);

  it('symmetric signed: s = max|x| / qmax, z = 0', () => {
    const p = paramsFromRange(-1, 2, sch('int8', true));
    expect(p).toMatchObject({ shape: [], zero: Int32Array.of(0) });
    expect(p.scale[0]).toBe(Math.fround(2 / 127));
    expect(paramsFromRange(-3.5, 1, sch('int4', true)).scale[0]).toBe(0.5);
  });

  it('symmetric unsigned centres the zero point so ±max|x| both fit', () => {
    const p = paramsFromRange(-2, 1, sch('uint8', true));
    expect([p.scale[0], p.zero[0]]).toEqual([Math.fround(2 / 127), 128]);
    expect(paramsFromRange(-7, 7, sch('uint4', true)).zero[0]).toBe(8);
    expect(quantize(Tensor.from('f32', [2], [-2, 2]), p).toNumbers()).toEqual([1, 255]);
  });

  it('asymmetric: s = (max − min) / (qmax − qmin), z = round(qmin − min / s), 0 exact', () => {
    const p = paramsFromRange(-1, 3, sch('uint8', false));
    const s = Math.fround(4 / 255);
    expect([p.scale[0], p.zero[0]]).toEqual([s, roundHalfEven(1 / s)]);
    expect(p.zero[0]).toBe(64);
    zeroIsExact(p);
    zeroIsExact(paramsFromRange(-0.3, 0.7, sch('int8', false)));
    zeroIsExact(paramsFromRange(-0.37, 2.21, sch('uint4', false)));
  });

  it('widens a negative-only or positive-only range to include 0', () => {
    const neg = paramsFromRange(-4, -1, sch('uint8', false));
    expect([neg.scale[0], neg.zero[0]]).toEqual([Math.fround(4 / 255), 255]);
    zeroIsExact(neg);
    expect(quantize(Tensor.from('f32', [2], [-4, -1]), neg).toNumbers()).toEqual([0, 255 - roundHalfEven(1 / Math.fround(4 / 255))]);
    const pos = paramsFromRange(1, 5, sch('int8', false));
    expect([pos.scale[0], pos.zero[0]]).toEqual([Math.fround(5 / 255), -128]);
    zeroIsExact(pos);
  });

  it('gives an all-zero range scale 1 and keeps 0 exact', () => {
    for (const f of FORMATS) for (const sym of [true, false]) {
      const p = paramsFromRange(0, 0, sch(f, sym));
      expect(p.scale[0]).toBe(1);
      zeroIsExact(p);
    }
    expect(paramsForTensor(Tensor.zeros('f32', [3, 4]), { format: 'int8', symmetric: false, granularity: 'channel', axis: 0 }).scale).toEqual(Float32Array.of(1, 1, 1));
  });

  it('floors a denormal range at the smallest normal float32 scale', () => {
    const p = paramsFromRange(-1e-44, 1e-44, sch('int8', true));
    expect(p.scale[0]).toBe(2 ** -126);
    expect(quantize(Tensor.from('f32', [2], [-1e-44, 1e-44]), p).toNumbers()).toEqual([0, 0]);
  });

  it('fp8 e4m3: s = max|x| / 448, zero points all 0', () => {
    const p = paramsFromRange(-896, 3, sch('fp8e4m3', false));
    expect([p.scale[0], p.zero[0]]).toEqual([2, 0]);
  });

  it('takes per-channel arrays and an explicit blocked shape', () => {
    const p = paramsFromRange([-1, 0, -2], [1, 4, -1], { format: 'int8', symmetric: true, granularity: 'channel' });
    expect(p.shape).toEqual([3]);
    expect(Array.from(p.scale)).toEqual([1 / 127, 4 / 127, 2 / 127].map(Math.fround));
    expect(paramsFromRange([0, 0, 0, 0], [1, 1, 1, 1], { format: 'int4', symmetric: true, granularity: 'group', axis: 0, group: 2 }, [2, 2]).shape).toEqual([2, 2]);
    expect(() => paramsFromRange([0, 0], [1], { format: 'int8', symmetric: true, granularity: 'channel' })).toThrow(/2 minima but 1 maxima/);
  });
});

describe('paramsForTensor', () => {
  const w = Tensor.from('f32', [4, 3], [1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12]);

  it('takes min / max per tensor, per channel and per block', () => {
    expect(paramsForTensor(w, { format: 'int8', symmetric: true, granularity: 'tensor' }).scale).toEqual(Float32Array.of(12 / 127));
    const ch = paramsForTensor(w, { format: 'int8', symmetric: true, granularity: 'channel', axis: 1 });
    expect(ch.shape).toEqual([3]);
    expect(ch.scale).toEqual(Float32Array.from([10, 11, 12].map((v) => v / 127)));
    const blk = paramsForTensor(w, { format: 'int8', symmetric: true, granularity: 'group', axis: 0, group: 3 });
    expect(blk.shape).toEqual([2, 3]);
    expect(blk.scale).toEqual(Float32Array.from([7, 8, 9, 10, 11, 12].map((v) => v / 127)));
  });

  it('rejects a group scheme without a group size and an out-of-range axis', () => {
    expect(() => paramsForTensor(w, { format: 'int4', symmetric: true, granularity: 'group', axis: 0 })).toThrow(/positive integer group size/);
    expect(() => paramsForTensor(w, { format: 'int4', symmetric: true, granularity: 'channel', axis: 2 })).toThrow(/axis 2 is out of range/);
  });
});

describe('quantize / dequantize match onnx.QuantizeLinear / DequantizeLinear bit for bit', () => {
  const r = rng(7);
  const shape = [6, 10];
  // Random values plus exact .5 ties of a power-of-two scale (0.25) and out-of-range values.
  const values = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? (Math.floor(r() * 40) - 20 + 0.5) * 0.25 : (r() - 0.45) * 8 * (i % 7 === 0 ? 30 : 1)));
  const x = Tensor.from('f32', shape, values);
  const schemes: [string, Omit<QuantScheme, 'format' | 'symmetric'>][] = [
    ['per tensor', { granularity: 'tensor' }],
    ['per axis 0', { granularity: 'channel', axis: 0 }],
    ['per axis -1', { granularity: 'channel', axis: -1 }],
    ['blocked axis 1, short last block', { granularity: 'group', axis: 1, group: 4 }],
    ['blocked axis 0', { granularity: 'group', axis: 0, group: 2 }],
  ];
  for (const format of ['int8', 'uint8', 'int4', 'uint4', 'int16', 'fp8e4m3'] as QuantFormat[]) {
    for (const [name, g] of schemes) {
      for (const symmetric of [true, false]) {
        it(`${format} ${name} ${symmetric ? 'symmetric' : 'asymmetric'}`, () => {
          // Shrink the fitted ranges so values saturate too.
          const p = paramsForTensor(x, { format, symmetric, ...g });
          p.scale.forEach((s, i) => { p.scale[i] = Math.fround(s * 0.8); });
          const q = quantize(x, p);
          const ref = refQuantize(x, p);
          expect(q.dtype).toBe(formatInfo(format).storage);
          expect(q.shape).toEqual(shape);
          expect(Array.from(q.data as ArrayLike<number>)).toEqual(Array.from(ref.data as ArrayLike<number>));
          const d = dequantize(q, p);
          expect(d.dtype).toBe('f32');
          expect(Array.from(d.data as Float32Array)).toEqual(Array.from(refDequantize(ref, p).data as Float32Array));
        });
      }
    }
  }

  it('rounds exact .5 ties to even', () => {
    const p: QuantParams = { scheme: { format: 'int8', symmetric: false, granularity: 'tensor' }, scale: Float32Array.of(0.5), zero: Int32Array.of(1), shape: [] };
    const t = Tensor.from('f32', [6], [0.25, 0.75, 1.25, -0.25, -0.75, -1.25]);
    // x / s = .5, 1.5, 2.5, -.5, -1.5, -2.5 → 0, 2, 2, -0, -2, -2, then + 1.
    expect(quantize(t, p).toNumbers()).toEqual([1, 3, 3, 1, -1, -1]);
    expect(refQuantize(t, p).toNumbers()).toEqual([1, 3, 3, 1, -1, -1]);
  });

  it('saturates to the format range', () => {
    const p = paramsFromRange(-1, 1, { format: 'int4', symmetric: true, granularity: 'tensor' });
    expect(quantize(Tensor.from('f32', [2], [-5, 5]), p).toNumbers()).toEqual([-8, 7]);
    const i6 = paramsFromRange(-1, 1, { format: 'int6', symmetric: true, granularity: 'tensor' });
    expect(i6.scale[0]).toBe(Math.fround(1 / 31));
    expect(quantize(Tensor.from('f32', [3], [-5, 0.5, 5]), i6).toNumbers()).toEqual([-32, 16, 31]);
    const u3 = paramsFromRange(0, 7, { format: 'uint3', symmetric: false, granularity: 'tensor' });
    expect(quantize(Tensor.from('f32', [3], [-1, 3.2, 50]), u3).toNumbers()).toEqual([0, 3, 7]);
    const f8 = paramsFromRange(-448, 448, { format: 'fp8e4m3', symmetric: true, granularity: 'tensor' });
    expect(quantize(Tensor.from('f32', [2], [-1e6, 1e6]), f8).toNumbers()).toEqual([-448, 448]);
  });
});

describe('sqnr', () => {
  it('is 10·log10(signal / noise) and infinite when exact', () => {
    expect(sqnr([1, 1, 1, 1], [1.1, 0.9, 1.1, 0.9])).toBeCloseTo(20, 10);
    expect(sqnr([1, 2], [1, 2])).toBe(Infinity);
  });

  it('of int8 fake quantization of a uniform tensor is near the 6.02·b rule', () => {
    const r = rng(3);
    const x = Tensor.from('f32', [4096], Array.from({ length: 4096 }, () => r() * 2 - 1));
    const db = sqnr(x.data as Float32Array, fakeQuant(x, paramsForTensor(x, { format: 'int8', symmetric: true, granularity: 'tensor' })).data as Float32Array);
    expect(db).toBeGreaterThan(45);
    expect(db).toBeLessThan(52);
  });
});

describe('dyadic / requantize', () => {
  it('writes a real as m / 2^shift with |m| in [2^30, 2^31)', () => {
    expect(dyadic(0.5)).toEqual({ multiplier: 2 ** 30, shift: 31 });
    expect(dyadic(1)).toEqual({ multiplier: 2 ** 30, shift: 30 });
    expect(dyadic(-0.75)).toEqual({ multiplier: -(3 * 2 ** 29), shift: 31 });
    expect(dyadic(0)).toEqual({ multiplier: 0, shift: 0 });
    const r = rng(11);
    for (let i = 0; i < 2000; i++) {
      const real = Math.exp((r() - 0.8) * 30) * (r() < 0.1 ? -1 : 1);
      const { multiplier, shift } = dyadic(real);
      expect(Math.abs(multiplier)).toBeGreaterThanOrEqual(2 ** 30);
      expect(Math.abs(multiplier)).toBeLessThan(2 ** 31);
      expect(Math.abs(multiplier / 2 ** shift - real) / Math.abs(real)).toBeLessThanOrEqual(2 ** -31);
    }
  });

  it('rounds the exact product half to even', () => {
    const half = dyadic(0.5);
    expect([3, 5, -3, -5, 4, 7].map((a) => requantize(a, half))).toEqual([2, 2, -2, -2, 2, 4]);
    expect(requantize(1000, dyadic(3))).toBe(3000);
  });

  it('equals round_half_even(acc · real) exactly when real is a dyadic m / 2^k', () => {
    const r = rng(9);
    for (let i = 0; i < 20000; i++) {
      const real = Math.floor(2 ** 30 + r() * 2 ** 30) / 2 ** (31 + Math.floor(r() * 20));
      const acc = Math.floor((r() * 2 - 1) * 2 ** 22); // acc · m < 2^53: exact in float64
      expect(requantize(acc, dyadic(real))).toBe(roundHalfEven(acc * real) + 0); // + 0: no -0
    }
  });

  // m / 2^shift differs from real by ≤ 2^-31 relative, which moves acc · real by less than 1 for
  // |acc| < 2^31 and real < 1: against float rounding of acc · real the result is at most 1 off,
  // and only where acc · real lies that close to a .5 boundary (measured: 0.9 % of these draws).
  it('is within 1 of round_half_even(acc · real) over random accumulators and multipliers', () => {
    const r = rng(5);
    let off = 0;
    for (let i = 0; i < 20000; i++) {
      const real = Math.exp(-r() * 20);
      const acc = Math.floor((r() * 2 - 1) * 2 ** 31);
      const diff = Math.abs(requantize(acc, dyadic(real)) - roundHalfEven(acc * real));
      expect(diff).toBeLessThanOrEqual(1);
      off += diff;
    }
    expect(off / 20000).toBeLessThan(0.02);
  });
});
