/** WASM kernels of shape ops (Pad modes, Resize, Tile), Log, and Ifs resolved at compile time, against the reference interpreter. */
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../../src/codegen/index.js';
import { run } from '../../../src/interp/interpreter.js';
import { LutraError } from '../../../src/ir/diagnostics.js';
import { Builder, Graph, Model, Tensor, tensorType, verify, type Attrs, type Value } from '../../../src/ir/index.js';
import { check, graphOf, opGraph, rand, runProgram } from './harness.js';

const TOL = 1e-5;
const i64 = (v: number[]) => Tensor.from('i64', [v.length], v);
const f32 = (v: number[]) => Tensor.from('f32', [v.length], v);
const summaries = (p: { dispatches: readonly { kernel: { summary: string } }[] }) => p.dispatches.map((d) => d.kernel.summary);

describe('Pad modes', () => {
  it.each([
    ['reflect', [3, 5, 7], [0, 2, 3, 0, 1, 2]],
    ['reflect', [2, 9], [1, 4, 1, 4]],
    ['edge', [3, 5, 7], [1, 0, 3, 2, 4, 1]],
    ['wrap', [4, 6], [2, 5, 1, 3]],
    ['edge', [5, 7], [-1, 2, 3, -2]],
    ['reflect', [5, 7], [-2, 3, 2, -3]],
    // pads of an axis of size 1, and reflections wider than the axis (folded with period 2(d − 1))
    ['reflect', [1, 3, 4], [0, 5, 7, 0, 4, 9]],
    ['edge', [1, 1, 3], [2, 3, 0, 1, 2, 5]],
  ] as const)('%s pads %j by %j', async (mode, shape, pads) => {
    const x = rand(1, [...shape]);
    const { err, program } = await check(opGraph('Pad', [x], [i64([...pads])], { mode }), [x]);
    expect(err).toBe(0);
    expect(summaries(program)).toEqual(['Pad']);
  });

  it('reflect over chosen axes, fused with the element-wise op before it', async () => {
    const x = rand(2, [2, 3, 6]);
    const g = graphOf((b) => {
      const r = b.op('onnx.Relu', [b.input('x', tensorType('f32', [2, 3, 6]))]);
      b.output(b.op('onnx.Pad', [r, b.constant('p', i64([3, 1, 4, 2])), null, b.constant('ax', i64([-1, 1]))], { mode: 'reflect' }));
    });
    const { err, program } = await check(g, [x]);
    expect(err).toBe(0);
    expect(summaries(program)).toEqual(['Relu+Pad']);
  });
});

describe('Resize', () => {
  const resize = (x: Tensor, attrs: Attrs, how: { scales?: number[]; sizes?: number[]; roi?: number[] }) =>
    opGraph('Resize', [x], [how.roi ? f32(how.roi) : null, how.scales ? f32(how.scales) : null, how.sizes ? i64(how.sizes) : null], attrs);

  const CTM = ['half_pixel', 'asymmetric', 'align_corners', 'pytorch_half_pixel', 'half_pixel_symmetric'];
  const GEOMETRY = [
    { what: 'upscale ×2 (scales)', scales: [1, 1, 2, 2] },
    { what: 'upscale to 7×11 (sizes)', sizes: [1, 2, 7, 11] },
    { what: 'downscale to 2×3 (sizes)', sizes: [1, 2, 2, 3] },
    { what: 'downscale ×0.6 (scales)', scales: [1, 1, 0.6, 0.6] },
  ];

  it.each(CTM.flatMap((ctm) => GEOMETRY.map((geo) => ({ ctm, ...geo }))))('linear, $ctm, $what', async ({ ctm, ...how }) => {
    const x = rand(3, [1, 2, 5, 6]);
    const { err, program } = await check(resize(x, { mode: 'linear', coordinate_transformation_mode: ctm }, how), [x]);
    expect(err).toBeLessThan(TOL);
    expect(summaries(program)).toEqual(['Resize']);
  });

  it.each(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'].flatMap((nm) => CTM.flatMap((ctm) => GEOMETRY.map((geo) => ({ nm, ctm, ...geo })))))(
    'nearest ($nm), $ctm, $what: an exact gather', async ({ nm, ctm, ...how }) => {
      const x = rand(4, [1, 2, 5, 6]);
      expect((await check(resize(x, { mode: 'nearest', nearest_mode: nm, coordinate_transformation_mode: ctm }, how), [x])).err).toBe(0);
    });

  it('tf_crop_and_resize extrapolates outside the roi', async () => {
    const x = rand(5, [1, 1, 4, 5]);
    const g = resize(x, { mode: 'linear', coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: -3 },
      { roi: [0, 0, -0.2, 0.1, 1, 1, 1.3, 0.8], sizes: [1, 1, 6, 7] });
    expect((await check(g, [x])).err).toBeLessThan(TOL);
    expect(run(g, [x])[0]!.toNumbers()).toContain(-3);
  });

  it('cubic, and the axes attribute', async () => {
    const x = rand(6, [2, 7, 5]);
    expect((await check(resize(x, { mode: 'cubic', axes: [1, 2] }, { sizes: [10, 3] }), [x])).err).toBeLessThan(TOL);
  });

  it('nearest on integer data gathers; linear on it names the node', async () => {
    const x = Tensor.from('i32', [1, 3, 4], Array.from({ length: 12 }, (_, i) => i * 7 - 20));
    expect((await check(resize(x, { mode: 'nearest' }, { scales: [1, 2, 1.5] }), [x])).err).toBe(0);
    expect(() => compileWasm(new Model(resize(x, { mode: 'linear' }, { scales: [1, 2, 2] })), { batch: 1, dims: {} }))
      .toThrow(/cannot lower onnx\.Resize: i32 interpolation is not supported/);
  });
});

describe('Tile', () => {
  it.each([
    [[2, 3, 1], [2, 1, 3]],
    [[3, 5], [3, 2]],
    [[1, 4], [5, 1]],
  ])('%j repeated %j', async (shape, reps) => {
    const x = rand(7, shape);
    expect((await check(opGraph('Tile', [x], [i64(reps)]), [x])).err).toBe(0);
  });

  it('tiles a lazy value inside its consumer kernel', async () => {
    const x = rand(8, [3, 4]);
    const g = graphOf((b) => {
      const e = b.op('onnx.Exp', [b.input('x', tensorType('f32', [3, 4]))]);
      b.output(b.op('onnx.Neg', [b.op('onnx.Tile', [e, b.constant('r', i64([2, 3]))])]));
    });
    const { err, program } = await check(g, [x]);
    expect(err).toBeLessThan(TOL);
    expect(summaries(program)).toEqual(['Exp+Neg']);
  });
});

describe('Log', () => {
  it('is within 2e-7 relative on normal and denormal inputs; 0 → −∞, negatives and NaN → NaN, +∞ → +∞', async () => {
    const finite = [1e-40, 3e-39, 1e-30, 1e-5, 0.3, 0.70710677, 0.999, 1, 1.001, 1.4142137, 2, 3.5, 1000, 1e30, 3.4e38];
    const special = [0, -0, -1, -Infinity, Infinity, NaN];
    const x = f32([...finite, ...special]);
    const g = opGraph('Log', [x]);
    const { program, wasm } = compileWasm(new Model(g), { batch: 1, dims: {} }, { optimize: false });
    const got = (await runProgram(program, wasm.binary, [x]))[0]!.toNumbers();
    const want = run(g, [x])[0]!.toNumbers();
    finite.forEach((_, i) => expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(2e-7 * Math.max(Math.abs(want[i]!), 1)));
    expect(got.slice(finite.length)).toEqual([-Infinity, -Infinity, NaN, NaN, Infinity, NaN]);
  });
});

describe('If', () => {
  /**
   * x: f32[3, 5]; y = Relu(x) outside the If; cond = Shape(x)[0] == n (known once shapes are);
   * then: Mul(y, w) + x (captures y, x and an outer constant), else: Neg(x) padded; the If's
   * output feeds a Sigmoid.
   */
  function staticIf(n: number, elseOutput: 'neg' | 'x' = 'neg'): Graph {
    const b = new Builder(new Graph('main'));
    const x = b.input('x', tensorType('f32', [3, 5]));
    const y = b.op('onnx.Relu', [x]);
    const w = b.constant('w', rand(9, [5]));
    const dim = b.op('onnx.Gather', [b.op('onnx.Shape', [x]), b.constant('zero', Tensor.scalar('i64', 0))], { axis: 0 });
    const cond = b.op('onnx.Equal', [dim, b.constant('n', Tensor.scalar('i64', n))]);
    const branch = (name: string, body: (sb: Builder) => Value): Graph => {
      const sg = new Graph(name, b.graph.weights);
      sg.parent = b.graph;
      const sb = new Builder(sg);
      sb.output(body(sb));
      return sg;
    };
    const then = branch('then', (sb) => sb.op('onnx.Add', [sb.op('onnx.Mul', [y, w]), x]));
    const els = branch('else', (sb) => (elseOutput === 'x' ? x : sb.op('onnx.Neg', [x])));
    const out = b.op('onnx.If', [cond], { then_branch: then, else_branch: els }, { name: 'if1' });
    b.output(b.op('onnx.Sigmoid', [out]));
    verify(b.graph);
    return b.graph;
  }

  it.each([
    [3, 'then', ['Relu+Mul+Add+Sigmoid']],
    [4, 'else', ['Neg+Sigmoid']],
  ])('a condition known at compile time (n = %i) lowers the %s branch inline, fused with its consumers', async (n, _branch, kernels) => {
    const x = rand(10, [3, 5]);
    const g = staticIf(n);
    const { err, program } = await check(g, [x]);
    expect(err).toBeLessThan(TOL);
    expect(summaries(program)).toEqual(kernels);
  });

  it('a branch whose output is an outer value', async () => {
    const x = rand(11, [3, 5]);
    const { err, program } = await check(staticIf(4, 'x'), [x]);
    expect(err).toBeLessThan(TOL);
    expect(summaries(program)).toEqual(['Sigmoid']);
  });

  /**
   * x: f32[4, 6]; cond = ReduceSum(x) > 0 (input data); y = Exp(x)·2 is captured by both branches;
   * then: y + x, else: Neg(y) or, with `mismatch`, a [4, 7] pad of it; the If's output feeds a Tanh.
   */
  function runtimeIf(mismatch = false): Graph {
    const b = new Builder(new Graph('main'));
    const x = b.input('x', tensorType('f32', [4, 6]));
    const cond = b.op('onnx.Greater', [b.op('onnx.ReduceSum', [x], { keepdims: 0 }), b.constant('z', Tensor.scalar('f32', 0))]);
    const y = b.op('onnx.Mul', [b.op('onnx.Exp', [x]), b.constant('two', Tensor.scalar('f32', 2))]);
    const branch = (name: string, body: (sb: Builder) => Value): Graph => {
      const sg = new Graph(name, b.graph.weights);
      sg.parent = b.graph;
      const sb = new Builder(sg);
      sb.output(body(sb));
      return sg;
    };
    const then = branch('then', (sb) => sb.op('onnx.Add', [y, x]));
    const els = branch('else', (sb) => (mismatch ? sb.op('onnx.Pad', [y, sb.constant('p', i64([0, 0, 0, 1]))]) : sb.op('onnx.Neg', [y])));
    const out = b.op('onnx.If', [cond], { then_branch: then, else_branch: els }, { name: 'gate', types: mismatch ? [tensorType('f32', undefined)] : undefined });
    b.output(b.op('onnx.Tanh', [out]));
    return b.graph;
  }

  it('a condition on input data runs both branches\' kernels under guards; the program follows the condition at run time', async () => {
    const g = runtimeIf();
    verify(g);
    const { program, wasm } = compileWasm(new Model(g), { batch: 1, dims: {} }, { optimize: false });
    const guards = program.dispatches.map((d) => (d.when ?? []).map((c) => c.value).join());
    expect(summaries(program).map((k, i) => `${k}${guards[i] ? `@${guards[i]}` : ''}`)).toEqual(
      ['Exp+Mul', 'ReduceSum+Greater', 'Add@true', 'If.then@true', 'Neg@false', 'If.else@false', 'Tanh']);
    const x = rand(12, [4, 6]);
    const neg = Tensor.from('f32', [4, 6], x.toNumbers().map((v) => -v - 0.5));
    for (const input of [x, neg]) {
      const got = await runProgram(program, wasm.binary, [input]);
      const want = run(g, [input]);
      expect(got[0]!.toNumbers().every((v, i) => Math.abs(v - want[0]!.get(i)) < 1e-6)).toBe(true);
    }
    expect(x.toNumbers().reduce((p, q) => p + q, 0) > 0).not.toBe(neg.toNumbers().reduce((p, q) => p + q, 0) > 0);
  });

  it('branches whose outputs differ in shape are one error naming the If', () => {
    const e = (() => { try { compileWasm(new Model(runtimeIf(true)), { batch: 1, dims: {} }); } catch (err) { return err; } return undefined; })();
    expect(e).toBeInstanceOf(LutraError);
    const msg = (e as LutraError).message;
    expect(msg).toMatch(/onnx\.If "gate".*cannot lower onnx\.If: output 0 has shape \[4,\d\] in one branch and \[4,\d\] in the \w+ branch/);
    expect(msg.split('\n')).toHaveLength(1);
  });
});
