/** float16 in the WASM backend: the renderer's half conversions, the runtime's, and f16 kernels against the reference interpreter. */
import { describe, expect, it } from 'vitest';
import { loaderFiles, manifestOf } from '../../../src/codegen/artifact.js';
import { compileWasm } from '../../../src/codegen/index.js';
import {
  type Expr, type Kernel, type Stmt, type Storage, load, loop, printKernel, store, storageBytes, ty, un, v,
} from '../../../src/codegen/kernel-ir.js';
import { schedule } from '../../../src/codegen/schedule.js';
import { renderModule } from '../../../src/codegen/wasm/render.js';
import { run } from '../../../src/interp/interpreter.js';
import { f16BitsToNumber, numberToF16Bits, roundF16 } from '../../../src/ir/dtype.js';
import { Model, Tensor, tensorType } from '../../../src/ir/index.js';
import { f32ToHalfBits, halfBitsToF32, instantiateArtifact } from '../../../src/runtime/executor.js';
import { uniform } from '../../helpers/random.js';
import { graphOf, opGraph, runProgram } from './harness.js';

// ---- conversions ---------------------------------------------------------------------------------

/** The part of the WebAssembly JS API used here (the project's lib setting omits its types). */
declare const WebAssembly: { instantiate(bytes: Uint8Array): Promise<{ instance: { exports: Record<string, unknown> } }> };

/** Run one loop `out[i] = body(in[i])` over `n` elements (vectorized when `vector`) on raw input bytes; returns the output bytes. */
async function convert(n: number, from: Storage, to: Storage, input: Uint8Array, body: (x: Expr) => Expr, vector: boolean): Promise<Uint8Array> {
  const i = v('i');
  const stmts: Stmt[] = [loop('i', n, [store('dst', i, body(load('src', i, ty('f32'))))], vector ? { vector: 4 } : {})];
  const kernel: Kernel = schedule({
    name: 'convert', summary: 'convert', locals: [], body: stmts,
    params: [{ name: 'src', elem: from, size: n, access: 'read' }, { name: 'dst', elem: to, size: n, access: 'write' }],
  });
  const srcBytes = storageBytes(from, n);
  const dstOffset = Math.ceil(srcBytes / 16) * 16;
  const total = dstOffset + storageBytes(to, n);
  const bases = new Map([['src', { offset: 0, elem: from }], ['dst', { offset: dstOffset, elem: to }]]);
  const { binary } = renderModule([{ kernel, bases }], total);
  const { instance } = await WebAssembly.instantiate(binary);
  const mem = new Uint8Array((instance.exports.memory as { buffer: ArrayBuffer }).buffer);
  mem.set(input, 0);
  (instance.exports.run as () => void)();
  return mem.slice(dstOffset, total);
}

const same = (a: number, b: number): boolean => (Number.isNaN(a) ? Number.isNaN(b) : Object.is(a, b));

/** f32 values that stress f32 → f16 rounding: ties and their neighbours at every half, subnormals, overflow, specials, random bits. */
function hardF32s(): Float32Array {
  const bits: number[] = [];
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let h = 0; h < 0x7c00; h++) {
    // the midpoint between half h and h + 1 (exact in f32), and one f32 ulp either side
    f[0] = (f16BitsToNumber(h) + f16BitsToNumber(h + 1)) / 2;
    const mid = u[0]!;
    for (const b of [mid - 1, mid, mid + 1, mid | 0x80000000]) bits.push(b >>> 0);
  }
  for (const x of [0, -0, Infinity, -Infinity, NaN, -NaN, 65504, 65519.99, 65520, 65536, 1e6, 3.4e38, 2 ** -24, 2 ** -25, 2 ** -25 + 2 ** -40, 3 * 2 ** -25, 2 ** -26, 1e-45, 1e-40, 2 ** -14, 2 ** -14 - 2 ** -30, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11]) {
    f[0] = x;
    bits.push(u[0]!, (u[0]! | 0x80000000) >>> 0);
  }
  bits.push(0x7f800001, 0xffc00000, 0x7fffffff, 0x00000001, 0x007fffff);
  const random = uniform(11, 200_000, 0, 2 ** 32);
  for (const r of random) bits.push(Math.floor(r) >>> 0);
  return new Float32Array(Uint32Array.from(bits).buffer);
}

describe('f16 conversions', () => {
  const halves = Uint16Array.from({ length: 65536 }, (_, h) => h);

  it.each([['scalar', false], ['4-lane', true]] as const)('half → f32 (%s) is exact for all 65536 bit patterns', async (_, vector) => {
    // 65535 elements: the vector loop leaves a 3-element scalar tail; the last pattern runs alone
    const out = new Float32Array((await convert(65536, 'f16', 'f32', new Uint8Array(halves.buffer), (x) => x, vector)).buffer);
    const bad = [...halves].filter((h) => !same(out[h]!, f16BitsToNumber(h)));
    expect(bad).toEqual([]);
  });

  it.each([['scalar', false], ['4-lane', true]] as const)('f32 → half (%s) rounds to nearest even like numberToF16Bits', async (_, vector) => {
    const xs = hardF32s();
    const out = new Uint16Array((await convert(xs.length, 'f32', 'f16', new Uint8Array(xs.buffer), (x) => x, vector)).buffer);
    const bad = [...xs.keys()].filter((i) => out[i] !== numberToF16Bits(xs[i]!)).slice(0, 5).map((i) => [xs[i], out[i], numberToF16Bits(xs[i]!)]);
    expect(bad).toEqual([]);
  });

  it.each([['scalar', false], ['4-lane', true]] as const)('roundf16 (%s) equals roundF16 in an f32 register', async (_, vector) => {
    const xs = hardF32s();
    const out = new Float32Array((await convert(xs.length, 'f32', 'f32', new Uint8Array(xs.buffer), (x) => un('roundf16', x), vector)).buffer);
    const bad = [...xs.keys()].filter((i) => !same(out[i]!, Math.fround(roundF16(xs[i]!)))).slice(0, 5).map((i) => [xs[i], out[i]]);
    expect(bad).toEqual([]);
  });

  it('the runtime converts like dtype.ts: every half exactly, f32 to nearest even', () => {
    expect([...halves].filter((h) => !same(halfBitsToF32(h), f16BitsToNumber(h)))).toEqual([]);
    const xs = hardF32s();
    expect([...xs.keys()].filter((i) => f32ToHalfBits(xs[i]!) !== numberToF16Bits(xs[i]!)).map((i) => xs[i])).toEqual([]);
  });
});

// ---- kernels ---------------------------------------------------------------------------------------

/** Seeded f16 input (values rounded to f16) in [lo, hi). */
const half = (seed: number, shape: number[], lo = -2, hi = 2): Tensor => Tensor.from('f16', shape, uniform(seed, shape.reduce((a, b) => a * b, 1), lo, hi));

/** The f16 bits of every element of the outputs (bit-for-bit comparisons). */
const bitsOf = (ts: readonly Tensor[]): number[] => ts.flatMap((t) => Array.from(t.toNumbers(), numberToF16Bits));

/** Compile `g`, run it and the interpreter on `inputs`: the outputs of both and the program. */
async function both(g: ReturnType<typeof graphOf>, inputs: readonly Tensor[]) {
  const { program, wasm } = compileWasm(new Model(g), { batch: 1, dims: {} }, { optimize: false });
  return { got: await runProgram(program, wasm.binary, inputs), want: run(g, inputs), program };
}

/** Largest |got − want| in units of the f16 ulp at |want|: the reference rounds an f64 result once, the kernels an f32 one. */
function ulps(got: readonly Tensor[], want: readonly Tensor[]): number {
  let worst = 0;
  got.forEach((g, i) => {
    const w = want[i]!;
    expect(g.shape).toEqual(w.shape);
    for (let j = 0; j < w.size; j++) {
      const ulp = 2 ** (Math.max(Math.floor(Math.log2(Math.abs(w.get(j)) || 2 ** -24)), -14) - 10);
      worst = Math.max(worst, Math.abs(g.get(j) - w.get(j)) / ulp);
    }
  });
  return worst;
}

describe('f16 kernels', () => {
  it('an element-wise chain rounds after every op, bit for bit like the reference, in one kernel', async () => {
    const x = half(1, [3, 37]);
    const y = half(2, [37], 0.5, 3);
    const c = Tensor.from('f16', [], [1.7]);
    const g = graphOf((b) => {
      const xv = b.input('x', tensorType('f16', [3, 37]));
      const yv = b.input('y', tensorType('f16', [37]));
      const s = b.op('onnx.Mul', [b.op('onnx.Add', [xv, yv]), b.constant('c', c)]);
      const d = b.op('onnx.Div', [b.op('onnx.Sub', [s, yv]), yv]);
      b.output(b.op('onnx.Relu', [b.op('onnx.Add', [b.op('onnx.Sqrt', [b.op('onnx.Abs', [d])]), d])]));
    });
    const { got, want, program } = await both(g, [x, y]);
    expect(bitsOf(got)).toEqual(bitsOf(want));
    expect(program.dispatches.map((d) => d.kernel.summary)).toEqual(['Add+Mul+Sub+Div+Abs+Sqrt+Relu']);
    expect(program.dispatches[0]!.kernel.params.map((p) => p.elem)).toEqual(['f16', 'f16', 'f16']);
    // the test can tell: the same chain rounded only at the end differs from the reference
    const f = Math.fround;
    const once = x.toNumbers().map((xv, i) => {
      const yv = y.get(i % 37);
      const d = f(f(f(f(f(xv + yv) * f(c.get(0))) - yv)) / yv);
      return roundF16(Math.max(f(f(Math.sqrt(Math.abs(d))) + d), 0));
    });
    expect(once.map(numberToF16Bits)).not.toEqual(bitsOf(want));
  });

  it('Cast f32 → f16 → f32 rounds the f32 input in the fused kernel', async () => {
    const x = Tensor.from('f32', [2, 11], uniform(3, 22, -70000, 70000).map((u, i) => (i % 3 ? u / 5e4 : u)));
    const g = graphOf((b) => {
      const h = b.op('onnx.Cast', [b.input('x', tensorType('f32', [2, 11]))], { to: 10 });
      b.output(b.op('onnx.Cast', [b.op('onnx.Mul', [h, h])], { to: 1 }));
    });
    const { got, want } = await both(g, [x]);
    expect(Array.from(got[0]!.toNumbers())).toEqual(Array.from(want[0]!.toNumbers()));
  });

  it('the runtime rounds f32 given for an f16 input to nearest even and returns f16 outputs exactly', async () => {
    const g = opGraph('Neg', [Tensor.zeros('f16', [13])]);
    const { program, wasm } = compileWasm(new Model(g), { batch: 1, dims: {} });
    const m = await instantiateArtifact(manifestOf(program, 'model.wasm'), wasm.binary, program.weights);
    const xs = Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 3 * 2 ** -25, 65520, -65519, 1e-8, 0.1, -0.3, 2048 + 1, 2048 + 3, NaN, -Infinity]);
    const out = Object.values(await m.run({ x0: xs }))[0]!;
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out as Float32Array)).toEqual(Array.from(xs, (x) => Math.fround(-roundF16(x))));
    expect(m.manifest.inputs[0]!.dtype).toBe('f16');
    const { dts } = loaderFiles(m.manifest);
    expect(dts).toMatch(/readonly "x0": Float32Array/);
    expect(dts).toMatch(/f16\[13\]/);
  });

  it('Conv (padding, stride, bias) + Relu with f16 weights stored as halves, within 1 ulp', async () => {
    const x = half(4, [1, 3, 11, 13]);
    const w = half(5, [5, 3, 3, 3], -0.5, 0.5);
    const bias = half(6, [5]);
    const g = graphOf((b) => {
      const conv = b.op('onnx.Conv', [b.input('x', tensorType('f16', [1, 3, 11, 13])), b.constant('w', w), b.constant('b', bias)], { pads: [1, 1, 1, 1], strides: [2, 1] });
      b.output(b.op('onnx.Relu', [conv]));
    });
    const { got, want, program } = await both(g, [x]);
    expect(ulps(got, want)).toBeLessThanOrEqual(1);
    expect(program.dispatches.map((d) => d.kernel.summary)).toContain('Conv+Relu');
    // 135 + 5 halves in weights.bin, widened to f32 in memory
    expect(program.weightSegments?.filter((s) => s.f16).map((s) => s.bytes).sort((a, b) => a - b)).toEqual([10, 270]);
    expect(program.memory.weightsBytes).toBeGreaterThanOrEqual(2 * 280);
    expect(program.weights.length).toBeLessThan(program.memory.weightsBytes);
  });

  it('an anchor result is rounded before its fused epilogue: exact integer Conv sums + Mul + Relu, bit for bit', async () => {
    // integer operands: sums (|Σ| ≤ 27·1600 < 65504) are exact in f32 and f64 but mostly need
    // more than 11 bits, so the Conv's f16 rounding shows in what the Mul by 0.3 sees
    const ints = (seed: number, shape: number[]) => Tensor.from('f16', shape, uniform(seed, shape.reduce((a, b) => a * b, 1), -40, 41).map(Math.floor));
    const x = ints(14, [1, 3, 9, 7]);
    const w = ints(15, [4, 3, 3, 3]);
    const g = graphOf((b) => {
      const conv = b.op('onnx.Conv', [b.input('x', tensorType('f16', [1, 3, 9, 7])), b.constant('w', w)]);
      b.output(b.op('onnx.Relu', [b.op('onnx.Mul', [conv, b.constant('s', Tensor.from('f16', [], [0.3]))])]));
    });
    const { got, want, program } = await both(g, [x]);
    expect(bitsOf(got)).toEqual(bitsOf(want));
    expect(program.dispatches.map((d) => d.kernel.summary)).toContain('Conv+Mul+Relu');
  });

  it('1×1 Conv widens its f16 input to f32 once (4-lane conversion), within 1 ulp', async () => {
    const x = half(7, [1, 6, 5, 7]);
    const g = opGraph('Conv', [x], [half(8, [9, 6, 1, 1], -0.5, 0.5)]);
    const { got, want, program } = await both(g, [x]);
    expect(ulps(got, want)).toBeLessThanOrEqual(1);
    const [widen, conv] = program.dispatches.map((d) => d.kernel);
    expect([widen!.summary, conv!.summary]).toEqual(['Widen', 'Conv']);
    expect(widen!.params.map((p) => `${p.access} ${p.elem}`)).toEqual(['read f16', 'write f32']);
    expect(printKernel(widen!)).toMatch(/= in0\[[^\]]* \+: 4\]/);
  });

  it('MatMul of two f16 activations and Gemm with a constant f16 Bᵀ and bias, within 1 ulp', async () => {
    const a = half(16, [5, 7]);
    const b = half(17, [7, 9]);
    const mm = await both(opGraph('MatMul', [a, b]), [a, b]);
    expect(ulps(mm.got, mm.want)).toBeLessThanOrEqual(1);
    const x = half(18, [3, 11]);
    const gemm = await both(opGraph('Gemm', [x], [half(19, [6, 11]), half(20, [6])], { transB: 1 }), [x]);
    expect(ulps(gemm.got, gemm.want)).toBeLessThanOrEqual(1);
  });

  it('MaxPool (odd window, padding) is exact', async () => {
    const x = half(9, [1, 3, 9, 11]);
    const g = opGraph('MaxPool', [x], [], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    const { got, want } = await both(g, [x]);
    expect(bitsOf(got)).toEqual(bitsOf(want));
  });

  it('GlobalAveragePool accumulates in f32 and rounds once, within 1 ulp', async () => {
    const x = half(10, [1, 5, 7, 9]);
    const { got, want } = await both(opGraph('GlobalAveragePool', [x]), [x]);
    expect(ulps(got, want)).toBeLessThanOrEqual(1);
  });

  it('Softmax over 1003 classes of a fused Relu, within 1 ulp', async () => {
    const x = half(11, [2, 1003], -4, 4);
    const g = graphOf((b) => b.output(b.op('onnx.Softmax', [b.op('onnx.Relu', [b.input('x', tensorType('f16', [2, 1003]))])], { axis: -1 })));
    const { got, want } = await both(g, [x]);
    expect(ulps(got, want)).toBeLessThanOrEqual(1);
  });

  it('Concat of a lazy Relu and an input along an odd axis is exact', async () => {
    const a = half(12, [2, 3, 7]);
    const c = half(13, [2, 5, 7]);
    const g = graphOf((b) => {
      const r = b.op('onnx.Relu', [b.input('a', tensorType('f16', [2, 3, 7]))]);
      b.output(b.op('onnx.Concat', [r, b.input('c', tensorType('f16', [2, 5, 7]))], { axis: 1 }));
    });
    const { got, want } = await both(g, [a, c]);
    expect(bitsOf(got)).toEqual(bitsOf(want));
  });
});
