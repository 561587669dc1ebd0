/**
 * @fileoverview Tensor types: an element type plus a shape whose dims are numbers, named
 * symbols (`batch`) or `?` (unknown). Quantized element types carry their parameters, like
 * MLIR's quant dialect: `q<i8, scale, zero, axis?, group?>`.
 */
import { type DType, dtypeInfo, isDType, isFloat } from './dtype.js';

/** A dimension: a static size, a named symbol, or '?' (unknown). */
export type Dim = number | string;
/** undefined shape = unknown rank. */
export type Shape = readonly Dim[];

/**
 * Quantized element type. `scale`/`zero` are numbers (per-tensor) or the name of a weight-store
 * entry holding the per-channel / per-group parameters. `axis` selects per-channel, `group`
 * the block size along `axis`.
 */
export interface QuantType {
  readonly kind: 'quant';
  readonly storage: DType;
  readonly expressed: DType;
  readonly scale: number | string;
  readonly zero: number | string;
  readonly axis?: number;
  readonly group?: number;
  /**
   * A narrower integer range inside the storage type (6-bit values held in i8, 3-bit in i4):
   * [−2^(bits−1), 2^(bits−1) − 1] signed, [0, 2^bits − 1] unsigned. Undefined: the storage range.
   */
  readonly bits?: number;
}

export type ElemType = DType | QuantType;

export interface TensorType {
  readonly dtype: ElemType;
  /** undefined = unknown rank. */
  readonly shape: Shape | undefined;
}

export const tensorType = (dtype: ElemType, shape: Shape | undefined): TensorType => ({ dtype, shape });

export const isQuant = (e: ElemType): e is QuantType => typeof e === 'object';

/** Why `bits` cannot narrow `storage` (it must be an integer type wider than bits ≥ 2), or undefined. */
export function narrowBitsError(storage: DType, bits: number): string | undefined {
  if (isFloat(storage)) return `a ${storage} quantized type cannot be narrowed to ${bits} bits`;
  const width = dtypeInfo(storage).bits;
  if (!Number.isInteger(bits) || bits < 2 || bits >= width) return `bits must be an integer in [2, ${width - 1}] for ${storage} storage, got ${bits}`;
  return undefined;
}

/** The integer range a quantized type's values take: its storage range, or the narrower one `bits` gives. */
export function quantRange(qt: Pick<QuantType, 'storage' | 'bits'>): { min: number; max: number } {
  const { min, max } = dtypeInfo(qt.storage);
  if (qt.bits === undefined) return { min, max };
  return min < 0 ? { min: -(2 ** (qt.bits - 1)), max: 2 ** (qt.bits - 1) - 1 } : { min: 0, max: 2 ** qt.bits - 1 };
}

/** The dtype values are stored in (the storage type of a quantized type). */
export const storageDType = (e: ElemType): DType => (isQuant(e) ? e.storage : e);

/** The dtype a quantized value dequantizes to. */
export const expressedDType = (e: ElemType): DType => (isQuant(e) ? e.expressed : e);

export const isStaticShape = (s: Shape | undefined): s is readonly number[] =>
  s !== undefined && s.every((d) => typeof d === 'number');

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

export function formatElemType(e: ElemType): string {
  if (!isQuant(e)) return e;
  const p = (v: number | string, isFloat: boolean) => (typeof v === 'string' ? `@${quoteIdent(v)}` : isFloat ? formatFloat(v) : String(v));
  const parts = [e.storage, p(e.scale, true), p(e.zero, false)];
  if (e.axis !== undefined) parts.push(`axis=${e.axis}`);
  if (e.group !== undefined) parts.push(`group=${e.group}`);
  if (e.bits !== undefined) parts.push(`bits=${e.bits}`);
  if (e.expressed !== 'f32') parts.push(`expressed=${e.expressed}`);
  return `q<${parts.join(', ')}>`;
}

export function formatDim(d: Dim): string {
  return typeof d === 'number' ? String(d) : d === '?' ? '?' : quoteIdent(d);
}

export function formatShape(s: Shape | undefined): string {
  return s === undefined ? '[*]' : `[${s.map(formatDim).join(',')}]`;
}

/** `f32[batch,10]`, `q<i8, 0.05, 0>[4,4]`, `i64[*]` (unknown rank). */
export function formatType(t: TensorType): string {
  return `${formatElemType(t.dtype)}${formatShape(t.shape)}`;
}

const BARE_IDENT = /^[A-Za-z_][A-Za-z0-9_.$-]*$/;

/** Identifiers print bare when simple, else as a JSON string: `%x`, `%"/blocks.0/Mul_output_0"`. */
export function quoteIdent(name: string): string {
  return BARE_IDENT.test(name) ? name : JSON.stringify(name);
}

export function sameElemType(a: ElemType, b: ElemType): boolean {
  if (!isQuant(a) || !isQuant(b)) return a === b;
  return a.storage === b.storage && a.expressed === b.expressed && a.scale === b.scale && a.zero === b.zero
    && a.axis === b.axis && a.group === b.group;
}

/** Dims are compatible when equal or when either is not a known number/symbol. */
export function dimsCompatible(a: Dim, b: Dim): boolean {
  return a === b || a === '?' || b === '?';
}

export function shapesCompatible(a: Shape | undefined, b: Shape | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  return a.length === b.length && a.every((d, i) => dimsCompatible(d, b[i]!));
}

export { isDType };
