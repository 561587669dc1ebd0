/**
 * q.log2_fake_quant: the kernel computes exactly what its ONNX expansion computes (the
 * interpreter running the expansion, and ONNX Runtime running the export), and the values are
 * the log√2 grid s·2^(−q/2).
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { exportOnnx } from '../../../src/frontends/onnx/export.js';
import { importOnnx } from '../../../src/frontends/onnx/import.js';
import { Builder, Graph, Model, Tensor, tensorType } from '../../../src/ir/index.js';
import { run } from '../../../src/interp/interpreter.js';
import { fromOrt, toOrt } from '../../../src/ort.js';
import { rng } from '../../helpers/random.js';

function model(scale: number, bits: number): Model {
  const g = new Graph('main');
  const b = new Builder(g);
  const a = b.input('a', tensorType('f32', [4096]));
  b.output(b.op('q.log2_fake_quant', [a], { scale, bits }));
  return new Model(g);
}

/** Softmax-like probabilities: mostly tiny, some near 1, exact zeros and exact grid points. */
function probabilities(): Tensor {
  const r = rng(7);
  const v = Array.from({ length: 4096 }, (_, i) => (i % 97 === 0 ? 0 : i % 89 === 0 ? 2 ** -(i % 9) : Math.exp(-12 * r())));
  return Tensor.from('f32', [4096], v);
}

describe('q.log2_fake_quant', () => {
  it.each([[1, 4], [0.75, 4], [1, 3], [0.5, 8]])('scale %d, %d bits: kernel ≡ its ONNX expansion (interpreter and ORT)', async (scale, bits) => {
    const m = model(scale, bits);
    const x = probabilities();
    const got = run(m.graph, [x])[0]!.data as Float32Array;
    const bytes = exportOnnx(m);
    const expanded = importOnnx(bytes);
    expect(expanded.graph.nodes.some((n) => n.op.startsWith('q.'))).toBe(false);
    expect(Array.from(run(expanded.graph, [x])[0]!.data as Float32Array)).toEqual(Array.from(got));
    const s = await ort.InferenceSession.create(bytes);
    const o = fromOrt((await s.run({ a: toOrt(ort, x) }))[s.outputNames[0]!]!).data as Float32Array;
    // ORT's vectorized Log may differ by an ulp; that only matters on exact rounding ties
    let differ = 0;
    for (let i = 0; i < got.length; i++) if (o[i] !== got[i]) differ++;
    expect(differ).toBeLessThanOrEqual(2);
  });

  it('produces the log√2 grid: s·2^(−q/2) for q < 2^bits, else 0', () => {
    const x = probabilities();
    const got = run(model(1, 4).graph, [x])[0]!.data as Float32Array;
    const grid = new Set(Array.from({ length: 16 }, (_, q) => Math.fround(2 ** -Math.floor(q / 2) * (q % 2 ? Math.fround(Math.SQRT1_2) : 1))));
    const xs = x.data as Float32Array;
    for (let i = 0; i < got.length; i++) {
      if (got[i] === 0) expect(xs[i]!).toBeLessThan(2 ** -7.5 * 1.01);
      else expect(grid.has(got[i]!)).toBe(true);
    }
    // exact grid points and 0 map to themselves
    expect(got[0]).toBe(0);
    expect(got[89 * 2]).toBe(2 ** -7); // 178 % 9 = 7: the input is 2^-7, q = 14
    expect(got[89 * 9]).toBe(1); // 2^0, q = 0
  });
});
