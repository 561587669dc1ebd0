import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importOnnx, loadOnnx } from '../../../../src/frontends/onnx/import.js';
import type { OnnxTypes } from '../../../../src/frontends/onnx/proto.js';
import type { Model } from '../../../../src/ir/graph.js';
import { getOp } from '../../../../src/ir/registry.js';
import { f32Init, modelBytes, node, vi } from './protos.js';
import { errorOf } from '../../../helpers/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'lutra-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** x + c → y, where c is the initializer under test. */
function addModel(init: OnnxTypes.ITensorProto, xDims: number[], elemType = 1): Uint8Array {
  return modelBytes({
    node: [node('Add', ['x', 'c'], ['y'])],
    input: [vi('x', xDims, elemType)],
    output: [vi('y', xDims, elemType)],
    initializer: [init],
  });
}

/** INT64_MAX / INT64_MIN as the {low, high} pairs protobufjs encodes for int64 fields. */
const INT64_MAX = { low: -1, high: 0x7fffffff } as never;
const INT64_MIN = { low: 0, high: -0x80000000 } as never;

function constant(m: Model, name: string) {
  const v = m.graph.constants.find((c) => c.name === name);
  if (!v) throw new Error(`no constant ${name}`);
  return m.graph.constValue(v)!;
}

describe('initializers', () => {
  it('decodes raw little-endian data', () => {
    const m = importOnnx(addModel(f32Init('c', [2], [1.5, -2]), [2]));
    expect(constant(m, 'c').toNumbers()).toEqual([1.5, -2]);
    expect(m.graph.nodes.map((n) => n.op)).toEqual(['onnx.Add']);
  });

  it('decodes the typed fields', () => {
    expect(constant(importOnnx(addModel({ name: 'c', dims: [2], dataType: 1, floatData: [0.5, 3] }, [2])), 'c').toNumbers()).toEqual([0.5, 3]);
    expect(constant(importOnnx(addModel({ name: 'c', dims: [3], dataType: 3, int32Data: [-1, 2, 127] }, [3], 3)), 'c').toNumbers()).toEqual([-1, 2, 127]);
    expect(constant(importOnnx(addModel({ name: 'c', dims: [2], dataType: 11, doubleData: [0.1, 2] }, [2], 11)), 'c').toNumbers()).toEqual([0.1, 2]);
    const i64 = constant(importOnnx(addModel({ name: 'c', dims: [2], dataType: 7, int64Data: [-5, 2 ** 40] }, [2], 7)), 'c');
    expect([...(i64.data as BigInt64Array)]).toEqual([-5n, 2n ** 40n]);
  });

  it('decodes f16 from raw data and from int32_data bit patterns', () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x3555]); // 1, -2, 0.333251953125
    const raw = constant(importOnnx(addModel({ name: 'c', dims: [3], dataType: 10, rawData: new Uint8Array(bits.buffer) }, [3], 10)), 'c');
    expect(raw.dtype).toBe('f16');
    expect(raw.toNumbers()).toEqual([1, -2, 0.333251953125]);
    const typed = constant(importOnnx(addModel({ name: 'c', dims: [3], dataType: 10, int32Data: [...bits] }, [3], 10)), 'c');
    expect(typed.toNumbers()).toEqual(raw.toNumbers());
  });

  it('unpacks int4 two per byte, low nibble first', () => {
    const int4 = (init: OnnxTypes.ITensorProto) => importOnnx(modelBytes({
      node: [node('Relu', ['x'], ['y'])], input: [vi('x', [1])], output: [vi('y', [1]), vi('c', [3], init.dataType!)], initializer: [init],
    }));
    // values 1, -2, 7 packed: byte0 = 1 | (0xE << 4), byte1 = 7
    const t = constant(int4({ name: 'c', dims: [3], dataType: 22, rawData: new Uint8Array([0xe1, 0x07]) }), 'c');
    expect(t.dtype).toBe('i4');
    expect(t.toNumbers()).toEqual([1, -2, 7]);
    expect(constant(int4({ name: 'c', dims: [3], dataType: 21, int32Data: [0xe1, 0x07] }), 'c').toNumbers()).toEqual([1, 14, 7]);
  });

  it('reads external data relative to the model directory, with offset and length', () => {
    const dir = mkdtempSync(join(tmp, 'ext-'));
    const payload = new Float32Array([9, 9, 4, 5]);
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(payload.buffer));
    const init: OnnxTypes.ITensorProto = {
      name: 'c', dims: [2], dataType: 1, dataLocation: 1,
      externalData: [{ key: 'location', value: 'weights.bin' }, { key: 'offset', value: '8' }, { key: 'length', value: '8' }],
    };
    writeFileSync(join(dir, 'model.onnx'), addModel(init, [2]));
    expect(constant(loadOnnx(join(dir, 'model.onnx')), 'c').toNumbers()).toEqual([4, 5]);
  });

  it('names the missing external-data file', () => {
    const init: OnnxTypes.ITensorProto = { name: 'c', dims: [2], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: 'gone.bin' }] };
    const e = errorOf(() => importOnnx(addModel(init, [2]), { path: join(tmp, 'm.onnx') }));
    expect(e.code).toBe('io');
    expect(e.message).toContain(`external data file '${join(tmp, 'gone.bin')}' not found`);
    expect(e.message).toContain("tensor 'c'");
  });

  it('makes a graph input that is also an initializer a constant', () => {
    const m = importOnnx(modelBytes({
      node: [node('Add', ['x', 'c'], ['y'])],
      input: [vi('x', [2]), vi('c', [2])],
      output: [vi('y', [2])],
      initializer: [f32Init('c', [2], [1, 2])],
    }));
    expect(m.graph.inputs.map((v) => v.name)).toEqual(['x']);
    expect(m.graph.constants.map((v) => v.name)).toEqual(['c']);
  });
});

describe('Constant nodes', () => {
  const attr = (a: OnnxTypes.IAttributeProto) => node('Constant', [], ['k'], { attribute: [a] });
  const withConstant = (a: OnnxTypes.IAttributeProto, dims: number[], elemType: number) => importOnnx(modelBytes({
    node: [attr(a), node('Add', ['x', 'k'], ['y'])],
    input: [vi('x', dims, elemType)],
    output: [vi('y', dims, elemType)],
  }));

  it.each([
    ['value', { name: 'value', type: 4, t: { dims: [2], dataType: 1, floatData: [1, 2] } }, [2], 1, 'f32', [2], [1, 2]],
    ['value_float', { name: 'value_float', type: 1, f: 0.25 }, [], 1, 'f32', [], [0.25]],
    ['value_floats', { name: 'value_floats', type: 6, floats: [1, 2, 3] }, [3], 1, 'f32', [3], [1, 2, 3]],
    ['value_int', { name: 'value_int', type: 2, i: 7 }, [], 7, 'i64', [], [7]],
    ['value_ints', { name: 'value_ints', type: 7, ints: [4, -5] }, [2], 7, 'i64', [2], [4, -5]],
  ] as const)('%s becomes a graph constant named by its output', (_, a, dims, elemType, dtype, shape, values) => {
    const m = withConstant(a as OnnxTypes.IAttributeProto, [...dims], elemType);
    expect(m.graph.nodes.map((n) => n.op)).toEqual(['onnx.Add']);
    const t = constant(m, 'k');
    expect([t.dtype, t.shape, t.toNumbers()]).toEqual([dtype, shape, values]);
  });

  it('rejects string constants as unsupported', () => {
    const e = errorOf(() => withConstant({ name: 'value_strings', type: 8, strings: [new Uint8Array([97])] }, [1], 1));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/Constant attribute 'value_strings'/);
  });
});

describe('graph structure', () => {
  it('sorts nodes topologically when the file does not', () => {
    const m = importOnnx(modelBytes({
      node: [node('Relu', ['b'], ['c'], { name: 'third' }), node('Add', ['a', 'a'], ['b'], { name: 'second' }), node('Relu', ['x'], ['a'], { name: 'first' })],
      input: [vi('x', [2])],
      output: [vi('c', [2])],
    }));
    expect(m.graph.nodes.map((n) => n.name)).toEqual(['first', 'second', 'third']);
    expect(m.graph.outputs[0]!.type).toEqual({ dtype: 'f32', shape: [2] });
  });

  it('keeps symbolic dims and refines unknown shapes from value_info', () => {
    const sym = importOnnx(modelBytes({ node: [node('Relu', ['x'], ['y'])], input: [vi('x', ['batch', 4])], output: [vi('y', undefined)] }));
    expect(sym.graph.outputs[0]!.type.shape).toEqual(['batch', 4]);
    const chain = (valueInfo: OnnxTypes.IValueInfoProto[]) => importOnnx(modelBytes({
      node: [node('Relu', ['x'], ['h']), node('Relu', ['h'], ['y'])],
      input: [vi('x', undefined)], output: [vi('y', [2, 3])], valueInfo,
    }));
    const declaredH = chain([vi('h', ['n', 3])]);
    expect(declaredH.graph.nodes[0]!.outputs[0]!.type.shape).toEqual(['n', 3]);
    expect(declaredH.graph.outputs[0]!.type.shape).toEqual(['n', 3]); // inference is precise: declared 2 does not override
    const onlyOutput = chain([]);
    expect(onlyOutput.graph.nodes[0]!.outputs[0]!.type.shape).toBeUndefined();
    expect(onlyOutput.graph.outputs[0]!.type.shape).toEqual([2, 3]);
  });

  it('converts every attribute kind to a plain value, saturating INT64 sentinels', () => {
    const m = importOnnx(modelBytes({
      node: [node('Relu', ['x'], ['y'], {
        attribute: [
          { name: 'i', type: 2, i: 3 }, { name: 'f', type: 1, f: 0.5 }, { name: 's', type: 3, s: new TextEncoder().encode('né') },
          { name: 'is', type: 7, ints: [1, -2, INT64_MAX, INT64_MIN] }, { name: 'fs', type: 6, floats: [0.25] },
          { name: 'ss', type: 8, strings: [new TextEncoder().encode('a')] }, { name: 't', type: 4, t: { dims: [1], dataType: 7, int64Data: [9] } },
        ],
      })],
      input: [vi('x', [1])], output: [vi('y', [1])],
    }), { verify: false });
    const { t, ...rest } = m.graph.nodes[0]!.attrs;
    expect(rest).toEqual({ i: 3, f: 0.5, s: 'né', is: [1, -2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER], fs: [0.25], ss: ['a'] });
    expect((t as { toNumbers(): number[] }).toNumbers()).toEqual([9]);
  });

  it('records opsets, IR version, producer and metadata', () => {
    const g = { node: [node('Relu', ['x'], ['y'])], input: [vi('x', [1])], output: [vi('y', [1])] };
    const m = importOnnx(modelBytes(g, 13, [{ domain: 'com.example', version: 2 }], {
      producerVersion: '1.2', docString: 'a relu', metadataProps: [{ key: 'author', value: 'me' }],
    }));
    expect(m.opsets).toEqual({ '': 13, 'com.example': 2 });
    expect([m.irVersion, m.producer, m.docString, m.metadata]).toEqual([8, 'lutra-tests 1.2', 'a relu', { author: 'me' }]);
  });

  it.skipIf(!getOp('onnx.If'))('inlines the taken branch of an If with a constant condition', () => {
    const branch = (op: string, out: string): OnnxTypes.IGraphProto => ({ name: out, node: [node(op, ['x'], [out])], output: [vi(out, [2])] });
    const m = importOnnx(modelBytes({
      node: [node('If', ['cond'], ['y'], { attribute: [{ name: 'then_branch', type: 5, g: branch('Relu', 't') }, { name: 'else_branch', type: 5, g: branch('Neg', 'e') }] })],
      input: [vi('x', [2])], output: [vi('y', [2])],
      initializer: [{ name: 'cond', dims: [], dataType: 9, int32Data: [1] }],
    }));
    expect(m.graph.nodes.map((n) => n.op)).toEqual(['onnx.Relu']);
    expect(m.graph.outputs[0]!.name).toBe('y');
  });
});

describe('bad input', () => {
  const good = modelBytes({ node: [node('Relu', ['x'], ['y'])], input: [vi('x', [2])], output: [vi('y', [2])] });

  it('reports a truncated protobuf as a parse error naming the file', () => {
    const e = errorOf(() => importOnnx(good.subarray(0, good.length - 5), { path: 'cut.onnx' }));
    expect(e.code).toBe('parse');
    expect(e.message).toMatch(/^cut\.onnx: not a valid ONNX model/);
    expect(e.message).not.toContain('\n');
  });

  it.each([
    ['PNG bytes', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])],
    ['JSON text', new TextEncoder().encode('{"graph": {"node": []}}')],
  ])('rejects %s as not an ONNX model', (_, bytes) => {
    const e = errorOf(() => importOnnx(bytes, { path: 'x.onnx' }));
    expect(e.code).toBe('parse');
    expect(e.message).toMatch(/^x\.onnx: not (a valid )?an? ?(valid )?ONNX model/);
  });

  it('names the node and the missing initializer', () => {
    const bytes = modelBytes({ node: [node('Add', ['x', 'w'], ['y'], { name: 'add1' })], input: [vi('x', [2])], output: [vi('y', [2])] });
    const e = errorOf(() => importOnnx(bytes, { path: 'm.onnx' }));
    expect(e.code).toBe('model');
    expect(e.message).toBe("m.onnx: node 'add1' (Add) uses 'w', which no node, graph input or initializer defines");
  });

  it('names the node with a dangling input from a node that does not exist', () => {
    const bytes = modelBytes({ node: [node('Relu', ['x'], ['a']), node('Relu', ['ghost_out'], ['y'])], input: [vi('x', [2])], output: [vi('y', [2])] });
    const e = errorOf(() => importOnnx(bytes, { path: 'm.onnx' }));
    expect(e.message).toBe("m.onnx: node (Relu, output 'y') uses 'ghost_out', which no node, graph input or initializer defines");
  });

  it('reports a cycle naming a node on it', () => {
    const bytes = modelBytes({
      node: [node('Add', ['x', 'b'], ['a'], { name: 'n1' }), node('Relu', ['a'], ['b'], { name: 'n2' })],
      input: [vi('x', [2])], output: [vi('b', [2])],
    });
    const e = errorOf(() => importOnnx(bytes, { path: 'm.onnx' }));
    expect(e.code).toBe('model');
    expect(e.message).toMatch(/^m\.onnx: graph 'g' has a cycle through node 'n[12]'/);
  });

  it('lists every unsupported op in one error', () => {
    const bytes = modelBytes({
      node: [
        node('FusedConv', ['x'], ['a'], { name: 'conv_1', domain: 'com.microsoft' }),
        node('NoSuchOp', ['a'], ['b'], { name: 'nso' }),
        node('NoSuchOp', ['b'], ['y'], { name: 'nso2' }),
      ],
      input: [vi('x', [2])], output: [vi('y', [2])],
    }, 17, [{ domain: 'com.microsoft', version: 1 }]);
    const e = errorOf(() => importOnnx(bytes, { path: 'model.onnx' }));
    expect(e.code).toBe('unsupported');
    expect(e.message).toBe("model.onnx: 2 unsupported ops: com.microsoft::FusedConv (opset 1, node 'conv_1'), ai.onnx::NoSuchOp (opset 17, node 'nso')");
  });

  it.each([[26, 'newer'], [5, 'older']])('rejects ai.onnx opset %i (%s than supported)', (opset) => {
    const bytes = modelBytes({ node: [node('Relu', ['x'], ['y'])], input: [vi('x', [2])], output: [vi('y', [2])] }, opset);
    const e = errorOf(() => importOnnx(bytes, { path: 'm.onnx' }));
    expect(e.code).toBe('unsupported');
    expect(e.message).toBe(`m.onnx: ai.onnx opset ${opset} is not supported (Lutra imports opsets 6–25)`);
  });

  it('rejects string inputs as an unsupported dtype', () => {
    const bytes = modelBytes({ node: [node('Relu', ['x'], ['y'])], input: [vi('x', [2], 8)], output: [vi('y', [2])] });
    const e = errorOf(() => importOnnx(bytes, { path: 'm.onnx' }));
    expect(e.code).toBe('unsupported');
    expect(e.message).toContain("input 'x' has element type STRING (8)");
  });

  it('reports a missing model file as an io error', () => {
    const e = errorOf(() => loadOnnx(join(tmp, 'nope.onnx')));
    expect(e.code).toBe('io');
    expect(e.message).toContain('ENOENT');
  });
});
