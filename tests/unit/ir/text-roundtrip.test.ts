import { describe, expect, it } from 'vitest';
import { Graph, Model, Node, Tensor, Value, formatType, tensorType, type QuantType, type TensorType } from '../../../src/ir/index.js';
import { parseModel, parseOptionalType, parseType, printGraph, printModel, sourceLocation } from '../../../src/ir/text/index.js';

/** print → parse → print is identical in both weight modes; returns the include-mode reparse. */
function expectRoundTrip(m: Model): Model {
  let reparsed: Model | undefined;
  for (const weights of ['elide', 'include'] as const) {
    const text = printModel(m, { weights });
    const back = parseModel(text, 'roundtrip.lir');
    expect(printModel(back, { weights })).toBe(text);
    if (weights === 'include') reparsed = back;
  }
  return reparsed!;
}

const f32 = (...shape: (number | string)[]): TensorType => tensorType('f32', shape);

function node(g: Graph, op: string, inputs: (Value | null)[], outs: [string, TensorType][], attrs: Node['attrs'] = {}, name = ''): Value[] {
  const values = outs.map(([n, t]) => new Value(n, t));
  g.add(new Node(op, inputs, values, attrs, name));
  return values;
}

/** A model touching every feature of the format. */
function everything(): Model {
  const g = new Graph('main');
  const x = new Value('input', f32('batch', 1, 16, 16));
  const odd = new Value('/blocks.0/Mul_output_0', f32('batch', '?', 'seq len'));
  const any = new Value('any', tensorType('i64', undefined));
  const cond = new Value('cond', tensorType('bool', []));
  g.inputs.push(x, odd, any, cond);

  const big = Tensor.from('f32', [32], Array.from({ length: 32 }, (_, i) => i / 7 - 2));
  const w = g.addConstant('conv.weight', big);
  g.addConstant('shape', Tensor.from('i64', [3], [-1n, 96n, 9007199254740993n]));
  g.addConstant('mask', Tensor.from('bool', [2, 2], [1, 0, 0, 1]));
  g.addConstant('half', Tensor.from('f16', [3], [0.1, -65504, Infinity]));
  g.addConstant('specials', Tensor.from('f32', [4], [NaN, -Infinity, -0, 2 ** -30]));
  g.addConstant('nibbles', Tensor.from('i4', [5], [-8, 7, 0, -1, 3]));
  g.addConstant('packed.i4', Tensor.from('i4', [17], Array.from({ length: 17 }, (_, i) => (i % 16) - 8)));
  g.addConstant('packed.u4', Tensor.from('u4', [3, 7], Array.from({ length: 21 }, (_, i) => i % 16)));
  g.addConstant('packed.i2', Tensor.from('i2', [19], Array.from({ length: 19 }, (_, i) => (i % 4) - 2)));
  g.addConstant('brain', Tensor.from('bf16', [20], Array.from({ length: 20 }, (_, i) => i * 1.37 - 9)));
  g.addConstant('fp8', Tensor.from('f8e4m3', [20], Array.from({ length: 20 }, (_, i) => i * 3.3 - 30)));
  g.addConstant('fp8b', Tensor.from('f8e5m2', [18], Array.from({ length: 18 }, (_, i) => i * 100 - 900)));
  g.addConstant('wide', Tensor.from('u64', [17], Array.from({ length: 17 }, (_, i) => 2n ** 63n + BigInt(i))));
  g.addConstant('doubles', Tensor.from('f64', [17], Array.from({ length: 17 }, (_, i) => Math.PI * i)));
  g.addConstant('shared.key.alias', Tensor.from('f32', [2], [1, 2]), 'renamed.key');
  g.weights.set('scales', Tensor.from('f32', [96], Array.from({ length: 96 }, (_, i) => 0.01 * (i + 1))));
  g.weights.set('zeros', Tensor.zeros('i8', [96]));

  const perChannel: QuantType = { kind: 'quant', storage: 'i8', expressed: 'f32', scale: 'scales', zero: 'zeros', axis: 0 };
  const perTensor: QuantType = { kind: 'quant', storage: 'u8', expressed: 'f16', scale: 0.05, zero: 128 };
  const grouped: QuantType = { kind: 'quant', storage: 'i4', expressed: 'f32', scale: 'scales', zero: 0, axis: 1, group: 32 };
  const qw = new Value('qw', tensorType(perChannel, [96, 1]));
  qw.weight = 'qw';
  g.constants.push(qw);
  g.weights.set('qw', Tensor.zeros('i8', [96, 1]));
  const small = new Value('qsmall', tensorType(perTensor, [2]));
  small.weight = 'qsmall';
  g.constants.push(small);
  g.weights.set('qsmall', Tensor.from('u8', [2], [0, 255]));

  const [conv] = node(g, 'onnx.Conv', [x, w, null], [['0', f32('batch', 96, 4, 4)]],
    { kernel_shape: [4, 4], strides: [4, 4], group: 1, auto_pad: 'NOTSET' }, '/patch/Conv');
  const [a, b] = node(g, 'onnx.Split', [conv!], [['a', f32('batch', 48, 4, 4)], ['b', f32('batch', 48, 4, 4)]], { axis: 1 });
  node(g, 'onnx.LeakyRelu', [a!], [['leaky', f32('batch', 48, 4, 4)]], { alpha: 1 });
  node(g, 'onnx.Resize', [b!, null, null, any], [['r', tensorType('f32', undefined)]], { mode: 'linear' });
  node(g, 'test.Attrs', [odd], [['attrs', tensorType(grouped, ['batch', 64])]], {
    i: 3, f: 0.5, big: 1e21, neg: -7, s: 'a "quoted"\nstring', ints: [1, -2], floats: [0.25, 1e-5, NaN], strs: ['x', ''],
    empty: [], t: Tensor.from('i32', [2, 1], [5, -6]), 'odd name': 2,
  }, 'with\ttab');

  const thenG = new Graph('then', g.weights);
  thenG.parent = g;
  thenG.addConstant('one', Tensor.from('f32', [2], [1, 1]));
  const [t] = node(thenG, 'onnx.Add', [thenG.constants[0]!, odd], [['t', f32(2)]]);
  thenG.outputs.push(t!);
  const elseG = new Graph('else', g.weights);
  elseG.parent = g;
  const inner = new Graph('inner', g.weights);
  inner.parent = elseG;
  const [deep] = node(inner, 'onnx.Identity', [x], [['deep', f32(2)]]);
  inner.outputs.push(deep!);
  const [e] = node(elseG, 'onnx.If', [cond], [['e', f32(2)]], { then_branch: inner, else_branch: inner });
  elseG.outputs.push(e!);
  const [y] = node(g, 'onnx.If', [cond], [['y', f32(2)]], { then_branch: thenG, else_branch: elseG });

  node(g, 'test.Sink', [x], [], { n: 1 });
  g.outputs.push(conv!, y!);
  const m = new Model(g);
  m.opsets = { '': 17, 'ai.onnx.ml': 2 };
  m.irVersion = 9;
  m.producer = 'pytorch 2.1';
  m.docString = 'doc';
  m.metadata = { author: 'me', 'key with space': 'v' };
  return m;
}

describe('text IR round trip', () => {
  it('prints, parses and reprints a model using every feature identically', () => {
    const m = everything();
    const back = expectRoundTrip(m);
    for (const key of m.weights.keys()) {
      const want = m.weights.get(key)!;
      const got = back.weights.get(key);
      expect(got, key).toBeDefined();
      expect(got!.dtype).toBe(want.dtype);
      expect(got!.shape).toEqual(want.shape);
      expect(Array.from(got!.data as ArrayLike<number | bigint>), key).toEqual(Array.from(want.data as ArrayLike<number | bigint>));
    }
    expect(back.weights.size).toBe(m.weights.size);
    expect(back.opsets).toEqual(m.opsets);
    expect([back.irVersion, back.producer, back.docString, back.metadata]).toEqual([9, 'pytorch 2.1', 'doc', m.metadata]);
  });

  it('prints names, types and attributes in the documented form', () => {
    const text = printModel(everything());
    expect(text).toMatch(/^model \{opsets = \{"" = 17, "ai.onnx.ml" = 2\}, ir_version = 9, producer = "pytorch 2.1", doc_string = "doc", metadata = \{"author" = "me", "key with space" = "v"\}\}\n/);
    expect(text).toContain('graph @main(%input: f32[batch,1,16,16], %"/blocks.0/Mul_output_0": f32[batch,?,"seq len"], %any: i64[*], %cond: bool[]) -> (f32[batch,96,4,4], f32[2]) {');
    expect(text).toContain('  %conv.weight = const @conv.weight : f32[32]\n');
    expect(text).toContain('  %shape = const dense<[-1, 96, 9007199254740993]> : i64[3]\n');
    expect(text).toContain('  %mask = const dense<[true, false, false, true]> : bool[2,2]\n');
    expect(text).toContain('  %specials = const dense<[nan, -inf, -0.0, 9.313225746154785e-10]> : f32[4]\n');
    expect(text).toContain('  %shared.key.alias = const @renamed.key : f32[2]\n');
    expect(text).toContain('  %qw = const @qw : q<i8, @scales, @zeros, axis=0>[96,1]\n');
    expect(text).toContain('  %qsmall = const dense<[0, 255]> : q<u8, 0.05, 128, expressed=f16>[2]\n');
    expect(text).toContain('  %0 = onnx.Conv(%input, %conv.weight, _) {auto_pad = "NOTSET", group = 1, kernel_shape = [4, 4], strides = [4, 4]} : f32[batch,96,4,4] loc("/patch/Conv")\n');
    expect(text).toContain('  %a, %b = onnx.Split(%0) {axis = 1} : f32[batch,48,4,4], f32[batch,48,4,4]\n');
    expect(text).toContain('{alpha = 1.0}');
    expect(text).toContain('  %r = onnx.Resize(%b, _, _, %any) {mode = "linear"} : f32[*]\n');
    expect(text).toContain('{big = 1e+21, empty = [], f = 0.5, floats = [0.25, 0.00001, nan], i = 3, ints = [1, -2], neg = -7, '
      + '"odd name" = 2, s = "a \\"quoted\\"\\nstring", strs = ["x", ""], t = dense<[5, -6]> : i32[2,1]} : q<i4, @scales, 0, axis=1, group=32>[batch,64] loc("with\\ttab")');
    expect(text).toContain(' = onnx.If(%cond) {else_branch = graph @else() -> f32[2] {\n    %e = onnx.If(%cond) {else_branch = graph @inner() -> f32[2] {\n      %deep = onnx.Identity(%input) : f32[2]\n      return %deep\n    }');
    expect(text).toContain('  }} : f32[2]\n  test.Sink(%input) {n = 1}\n  return %0, %y\n}\n');
    expect(text).not.toContain('weights {');
  });

  it('writes weight data as little-endian raw bytes, packing sub-byte types', () => {
    const text = printModel(everything(), { weights: 'include' });
    expect(text).toContain('\nweights {\n  @conv.weight = f32[32] x"');
    expect(text).toContain('  @packed.i4 = i4[17] x"98badcfe1032547608"\n');
    expect(text).toContain('  @renamed.key = f32[2] x"0000803f00000040"\n');
    expect(text).toContain('  @scales = f32[96] x"');
    expect(text).not.toContain('@shape =');
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('drops elided weights on parse but keeps inline constants', () => {
    const back = parseModel(printModel(everything()));
    expect(back.weights.has('conv.weight')).toBe(false);
    expect(back.weights.has('scales')).toBe(false);
    expect(back.weights.get('shape')!.data).toEqual(new BigInt64Array([-1n, 96n, 9007199254740993n]));
    const c = back.graph.constants.find((v) => v.name === 'conv.weight')!;
    expect(c.weight).toBe('conv.weight');
  });

  it('omits the model header when everything has its default', () => {
    const g = new Graph('g');
    const x = new Value('x', f32(2));
    g.inputs.push(x);
    g.outputs.push(x);
    const m = new Model(g);
    expect(printModel(m)).toBe('graph @g(%x: f32[2]) -> f32[2] {\n  return %x\n}\n');
    expectRoundTrip(m);
    g.outputs = [];
    expect(printModel(m)).toBe('graph @g(%x: f32[2]) -> () {\n  return\n}\n');
    expectRoundTrip(m);
  });

  it('rebuilds the structure: scoping, producers, subgraph parents, omitted operands, node names', () => {
    const back = parseModel(printModel(everything()));
    const g = back.graph;
    const ifNode = g.nodes.find((n) => n.outputs[0]?.name === 'y')!;
    const thenG = ifNode.attrs['then_branch'] as Graph;
    const elseG = ifNode.attrs['else_branch'] as Graph;
    expect(thenG.parent).toBe(g);
    expect(elseG.parent).toBe(g);
    expect(thenG.weights).toBe(g.weights);
    expect(thenG.nodes[0]!.inputs[1]).toBe(g.inputs[1]);
    const deep = (elseG.nodes[0]!.attrs['then_branch'] as Graph).nodes[0]!;
    expect(deep.inputs[0]).toBe(g.inputs[0]);
    const conv = g.nodes[0]!;
    expect(conv.inputs[2]).toBeNull();
    expect(conv.name).toBe('/patch/Conv');
    expect(conv.outputs[0]!.producer).toBe(conv);
    expect(g.nodes[1]!.inputs[0]).toBe(conv.outputs[0]);
    expect(g.outputs[0]).toBe(conv.outputs[0]);
    const attrs = g.nodes.find((n) => n.op === 'test.Attrs')!.attrs;
    expect(attrs['t']).toBeInstanceOf(Tensor);
    expect((attrs['t'] as Tensor).toNumbers()).toEqual([5, -6]);
    expect(attrs['floats']).toEqual([0.25, 1e-5, NaN]);
  });

  it('records where each parsed node was written', () => {
    const text = [
      '// RUN: lutra opt %s',
      'graph @conv_relu(%x: f32[1,3,8,8], %w: f32[4,3,3,3]) -> f32[1,4,6,6] {',
      '  %0 = onnx.Conv(%x, %w) : f32[1,4,6,6]',
      '     %1 = onnx.Relu(%0) : f32[1,4,6,6]',
      '  return %1',
      '}',
    ].join('\n');
    const m = parseModel(text, 'golden.lir');
    expect(m.graph.nodes.map((n) => sourceLocation(n))).toEqual([
      { file: 'golden.lir', line: 3, col: 3 },
      { file: 'golden.lir', line: 4, col: 6 },
    ]);
    expect(printGraph(m.graph)).toBe([
      'graph @conv_relu(%x: f32[1,3,8,8], %w: f32[4,3,3,3]) -> f32[1,4,6,6] {',
      '  %0 = onnx.Conv(%x, %w) : f32[1,4,6,6]',
      '  %1 = onnx.Relu(%0) : f32[1,4,6,6]',
      '  return %1',
      '}',
      '',
    ].join('\n'));
    expect(sourceLocation(new Node('onnx.Relu', [], []))).toBeUndefined();
  });

  it('accepts a parenthesised single result type and reprints it bare', () => {
    const m = parseModel('graph @g(%x: f32[2]) -> (f32[2]) { return %x }');
    expect(printModel(m)).toBe('graph @g(%x: f32[2]) -> f32[2] {\n  return %x\n}\n');
  });

  it('parses standalone types', () => {
    expect(parseType('f32[batch,?,3]')).toEqual({ dtype: 'f32', shape: ['batch', '?', 3] });
    expect(parseType('i64[*]')).toEqual({ dtype: 'i64', shape: undefined });
    expect(parseType('q<i8, @s, 3, group=32, axis=1>[4]')).toEqual({
      dtype: { kind: 'quant', storage: 'i8', expressed: 'f32', scale: 's', zero: 3, axis: 1, group: 32 }, shape: [4],
    });
    expect(parseType('q<u8, 0.5, 3, bits=6>[4]')).toEqual({
      dtype: { kind: 'quant', storage: 'u8', expressed: 'f32', scale: 0.5, zero: 3, bits: 6 }, shape: [4],
    });
    expect(formatType(parseType('q<u8, 0.5, 3, bits=6>[4]'))).toBe('q<u8, 0.5, 3, bits=6>[4]');
    expect(() => parseType('q<i8, 0.5, 0, bits=8>[4]', 't.txt')).toThrow(/^t\.txt:1:20: bits must be an integer in \[2, 7\] for i8 storage, got 8$/);
    expect(() => parseType('q<f8e4m3, 0.5, 0, bits=4>[4]', 't.txt')).toThrow(/cannot be narrowed to 4 bits/);
    expect(parseOptionalType('f33[2]')).toBeUndefined();
    expect(parseOptionalType('f32[2')).toBeUndefined();
    expect(() => parseType('f32[2] x', 't.txt')).toThrow(/^t\.txt:1:8: unexpected 'x' where the input should end$/);
  });
});
