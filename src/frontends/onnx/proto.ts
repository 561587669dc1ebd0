/**
 * @fileoverview The ONNX protobuf bindings (onnx-proto, generated for IR version 8) and the
 * small conversions every part of the frontend shares: int64 fields, element-type numbers.
 */
import onnxProto from 'onnx-proto';
import { type DType, ONNX_DTYPE_CODE, dtypeFromOnnx } from '../../ir/dtype.js';

/** The generated `onnx` namespace (ModelProto, TensorProto, ...). */
export const onnx = onnxProto.onnx;
/** The generated message types, for annotations (`OnnxTypes.ITensorProto`). */
export type { onnx as OnnxTypes } from 'onnx-proto';

/** An int64 protobuf field as decoded: a Long, or a number when protobufjs runs without `long`. */
export type Int64 = number | { readonly low: number; readonly high: number; toNumber(): number };

/** An int64 field as a JS number (exact up to 2^53). */
export function toNum(x: Int64 | null | undefined): number {
  if (x === null || x === undefined) return 0;
  return typeof x === 'number' ? x : x.toNumber();
}

/**
 * An int64 attribute as a number. Values beyond ±2^53 — in practice the INT64_MAX / INT64_MIN
 * sentinels meaning "to the end" (Slice) — saturate to ±MAX_SAFE_INTEGER: exact, and they keep
 * their sign when an upgrade hook turns them back into an i64 tensor (2^63 would wrap).
 */
export function toAttrInt(x: Int64 | null | undefined): number {
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, toNum(x)));
}

/** An int64 field as an exact BigInt (signed, or unsigned for uint64 fields). */
export function toBig(x: Int64, unsigned = false): bigint {
  if (typeof x === 'number') return BigInt(x);
  const v = (BigInt(x.high >>> 0) << 32n) | BigInt(x.low >>> 0);
  return unsigned ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v);
}

/** Names of the ONNX element types Lutra cannot represent, for error messages. */
const UNSUPPORTED_NAMES: Readonly<Record<number, string>> = {
  0: 'UNDEFINED', 8: 'STRING', 14: 'COMPLEX64', 15: 'COMPLEX128', 18: 'FLOAT8E4M3FNUZ', 20: 'FLOAT8E5M2FNUZ',
  23: 'FLOAT4E2M1', 24: 'FLOAT8E8M0', 25: 'UINT2',
};

export { dtypeFromOnnx };

/** `STRING (8)`: how messages name an ONNX element type. */
export function onnxTypeName(t: number): string {
  return `${UNSUPPORTED_NAMES[t] ?? 'element type'} (${t})`;
}

/** ONNX element-type number of a Lutra dtype. */
export function dtypeToOnnx(d: DType): number | undefined {
  return ONNX_DTYPE_CODE[d];
}
