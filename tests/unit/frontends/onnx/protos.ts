/** @fileoverview Small ONNX models built in tests with onnx-proto, so importer tests need no files. */
import { type OnnxTypes, onnx } from '../../../../src/frontends/onnx/proto.js';

/** A float tensor value_info `name: f32[dims]` (string dims are dim_params). */
export function vi(name: string, dims: (number | string)[] | undefined, elemType = 1): OnnxTypes.IValueInfoProto {
  const tensorType: OnnxTypes.TypeProto.ITensor = { elemType };
  if (dims) tensorType.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType } };
}

/** A node in the default domain (or `domain`). */
export function node(opType: string, input: string[], output: string[], opts: { name?: string; domain?: string; attribute?: OnnxTypes.IAttributeProto[] } = {}): OnnxTypes.INodeProto {
  return { opType, input, output, name: opts.name ?? '', domain: opts.domain ?? '', attribute: opts.attribute ?? [] };
}

/** Raw little-endian f32 initializer. */
export function f32Init(name: string, dims: number[], values: number[]): OnnxTypes.ITensorProto {
  return { name, dims, dataType: 1, rawData: new Uint8Array(new Float32Array(values).buffer) };
}

/** Encode a model from a graph, with ai.onnx `opset`, extra opset imports and other ModelProto fields. */
export function modelBytes(graph: OnnxTypes.IGraphProto, opset = 17, extra: OnnxTypes.IOperatorSetIdProto[] = [], fields: OnnxTypes.IModelProto = {}): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    producerName: 'lutra-tests',
    opsetImport: [{ domain: '', version: opset }, ...extra],
    graph: { name: 'g', ...graph },
    ...fields,
  }).finish();
}
