/**
 * @fileoverview ONNX TypeProto ↔ Lutra TensorType. Symbolic dims keep their `dim_param` names;
 * a dim with neither value nor param is '?'; a missing shape is unknown rank.
 */
import { LutraError } from '../../ir/diagnostics.js';
import type { Dim, TensorType } from '../../ir/types.js';
import { storageDType } from '../../ir/types.js';
import { type OnnxTypes, dtypeFromOnnx, dtypeToOnnx, onnx, onnxTypeName, toNum } from './proto.js';

const NON_TENSOR: Readonly<Record<string, string>> = {
  sequenceType: 'a sequence type', mapType: 'a map type', optionalType: 'an optional type', sparseTensorType: 'a sparse tensor type',
};

/** The tensor type an ONNX TypeProto declares; `what` names the value in errors (`input 'x'`). */
export function typeFromProto(tp: OnnxTypes.ITypeProto | null | undefined, what: string, file?: string): TensorType {
  const t = tp?.tensorType;
  if (!tp || !t) {
    const kind = tp ? Object.keys(NON_TENSOR).find((k) => tp[k as keyof OnnxTypes.ITypeProto]) : undefined;
    if (kind) throw new LutraError('unsupported', `${what} has ${NON_TENSOR[kind]}; Lutra supports tensors only`, file);
    throw new LutraError('model', `${what} has no tensor type`, file);
  }
  const dtype = dtypeFromOnnx(t.elemType ?? 0);
  if (!dtype) throw new LutraError('unsupported', `${what} has element type ${onnxTypeName(t.elemType ?? 0)}, which Lutra cannot represent`, file);
  if (!t.shape) return { dtype, shape: undefined };
  const shape: Dim[] = (t.shape.dim ?? []).map((d) => {
    if ((d as OnnxTypes.TensorShapeProto.Dimension).value === 'dimValue') return toNum(d.dimValue);
    return d.dimParam ? d.dimParam : '?';
  });
  return { dtype, shape };
}

/** Fill '?' dims and unknown rank of `inferred` from a declared type of the same rank. */
export function refineType(inferred: TensorType, declared: TensorType | undefined): TensorType {
  if (!declared?.shape) return inferred;
  if (!inferred.shape) return { dtype: inferred.dtype, shape: declared.shape };
  if (inferred.shape.length !== declared.shape.length) return inferred;
  return { dtype: inferred.dtype, shape: inferred.shape.map((d, i) => (d === '?' ? declared.shape![i]! : d)) };
}

/** A TypeProto for a tensor type (quantized types export their storage dtype). */
export function typeToProto(t: TensorType, what: string): OnnxTypes.TypeProto {
  const elemType = dtypeToOnnx(storageDType(t.dtype));
  if (elemType === undefined) throw new LutraError('unsupported', `${what}: dtype ${storageDType(t.dtype)} has no ONNX element type`);
  const tensorType: OnnxTypes.TypeProto.ITensor = { elemType };
  if (t.shape) {
    tensorType.shape = {
      dim: t.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : d === '?' ? {} : { dimParam: d })),
    };
  }
  return onnx.TypeProto.create({ tensorType });
}
