import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { exportOnnx, saveOnnx } from '../../../../src/frontends/onnx/export.js';
import { importOnnx, loadOnnx } from '../../../../src/frontends/onnx/import.js';
import { type OnnxTypes, onnx } from '../../../../src/frontends/onnx/proto.js';
import { run } from '../../../../src/interp/interpreter.js';
import { Builder } from '../../../../src/ir/builder.js';
import { LutraError } from '../../../../src/ir/diagnostics.js';
import { Graph, Model } from '../../../../src/ir/graph.js';
import { registerOp } from '../../../../src/ir/registry.js';
import { Tensor } from '../../../../src/ir/tensor.js';
import { tensorType } from '../../../../src/ir/types.js';
import { errorOf } from '../../../helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'lutra-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** y = LeakyRelu(Gemm(x, w, alpha=0.5, transB=1)), x: f32[batch,3]. */
function gemmModel(): Model {
  const b = new Builder(new Graph('gemm'));
  const x = b.input('x', tensorType('f32', ['batch', 3]));
  const w = b.constant('w', Tensor.from('f32', [2, 3], [1, 2, 3, -1, 0.5, 0.25]));
  const h = b.op('onnx.Gemm', [x, w], { alpha: 0.5, transB: 1 }, { name: 'gemm1', out: 'h' });
  b.output(b.op('onnx.LeakyRelu', [h], { alpha: 0.1 }, { out: 'y' }));
  return new Model(b.graph);
}

/** The graph of a serialized model, with the decoded (non-optional) field types. */
function graphOf(bytes: Uint8Array): OnnxTypes.GraphProto {
  return onnx.ModelProto.decode(bytes).graph as OnnxTypes.GraphProto;
}

describe('exportOnnx', () => {
  it('writes opset 21, IR 10, raw initializers, dim_params and schema-typed attributes', () => {
    const p = onnx.ModelProto.decode(exportOnnx(gemmModel()));
    expect(p.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 21]]);
    expect(Number(p.irVersion)).toBe(10);
    const g = p.graph as OnnxTypes.GraphProto;
    expect(g.initializer.map((t) => [t.name, t.rawData?.length])).toEqual([['w', 24]]);
    expect(g.input[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', 3]);
    const gemm = g.node[0]!;
    expect([gemm.opType, gemm.name, gemm.input, gemm.output]).toEqual(['Gemm', 'gemm1', ['x', 'w'], ['h']]);
    expect(gemm.attribute!.map((a) => [a.name, a.type])).toEqual([['alpha', 1], ['transB', 2]]);
  });

  it('round-trips through the importer to the same graph', () => {
    const m = importOnnx(exportOnnx(gemmModel()));
    expect(m.graph.nodes.map((n) => [n.op, n.attrs])).toEqual([['onnx.Gemm', { alpha: 0.5, transB: 1 }], ['onnx.LeakyRelu', { alpha: expect.closeTo(0.1, 7) }]]);
    expect(m.graph.outputs[0]!.type).toEqual({ dtype: 'f32', shape: ['batch', 2] });
  });

  it('runs in ONNX Runtime with the interpreter\'s results', async () => {
    const model = gemmModel();
    const x = Tensor.from('f32', [2, 3], [1, -2, 3, 0.5, 0.25, -4]);
    const want = run(model.graph, [x])[0]!;
    const session = await ort.InferenceSession.create(exportOnnx(model));
    const got = await session.run({ x: new ort.Tensor('float32', x.data as Float32Array, [2, 3]) });
    expect(Array.from(got.y!.data as Float32Array)).toEqual(want.toNumbers());
  });

  it('packs int4 initializers two per byte', () => {
    const g = new Graph('q');
    g.outputs.push(g.addConstant('c', Tensor.from('i4', [3], [1, -2, 7])));
    const init = graphOf(exportOnnx(new Model(g))).initializer[0]!;
    expect([init.dataType, [...init.rawData!]]).toEqual([22, [0xe1, 0x07]]);
  });

  it('expands non-onnx ops into onnx ops and leaves the model unchanged', () => {
    registerOp({
      name: 'test.TwoRelu', summary: 'Relu twice', inputs: [1, 1], outputs: [1, 1], attrs: {}, infer: (c) => [c.inputs[0]!],
      expand: (n, b) => [b.op('onnx.Relu', [b.op('onnx.Relu', [n.inputs[0]!])])],
    });
    const b = new Builder(new Graph('f'));
    const x = b.input('x', tensorType('f32', [2, 3]));
    b.output(b.op('test.TwoRelu', [x], {}, { out: 'y' }));
    const model = new Model(b.graph);
    const g = graphOf(exportOnnx(model));
    expect(g.node.map((n) => [n.opType, n.input, n.output])).toEqual([['Relu', ['x'], ['relu']], ['Relu', ['relu'], ['y']]]);
    expect(g.output.map((o) => o.name)).toEqual(['y']);
    expect(model.graph.nodes.map((n) => n.op)).toEqual(['test.TwoRelu']);
  });

  it('rejects an attribute the op schema does not declare, naming the node', () => {
    const model = gemmModel();
    model.graph.nodes[0]!.attrs.bogus = 1;
    const e = errorOf(() => exportOnnx(model));
    expect(e.message).toBe('onnx.Gemm "gemm1": attribute \'bogus\' is not in the schema of onnx.Gemm');
  });

  it('rejects a non-onnx op without an expansion', () => {
    registerOp({ name: 'test.Opaque', summary: 'no expansion', inputs: [1, 1], outputs: [1, 1], attrs: {}, infer: (c) => [c.inputs[0]!] });
    const b = new Builder(new Graph('o'));
    b.output(b.op('test.Opaque', [b.input('x', tensorType('f32', [1]))]));
    const e = errorOf(() => exportOnnx(new Model(b.graph)));
    expect(e.code).toBe('unsupported');
    expect(e.message).toContain('test.Opaque has no ONNX expansion');
  });
});

describe('saveOnnx', () => {
  it('writes a file loadOnnx reads back', () => {
    const path = join(tmp, 'gemm.onnx');
    saveOnnx(gemmModel(), path);
    expect(loadOnnx(path).graph.nodes.map((n) => n.op)).toEqual(['onnx.Gemm', 'onnx.LeakyRelu']);
  });

  it('leaves no file behind when export fails', () => {
    const model = gemmModel();
    model.graph.nodes[1]!.attrs.bogus = 'x';
    const path = join(tmp, 'bad.onnx');
    expect(() => saveOnnx(model, path)).toThrow(LutraError);
    expect(existsSync(path)).toBe(false);
  });
});
