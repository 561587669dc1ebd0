/**
 * @fileoverview Element-wise ops: unary math, binary arithmetic with numpy broadcasting,
 * comparisons, logic, Where, Clip, Cast. Ops are defined from tables: a row names the op, the
 * dtypes its inputs may have and its attributes; the family gives arity and inference.
 */
import { type DType, dtypeFromOnnx, isFloat } from '../dtype.js';
import { LutraError } from '../diagnostics.js';
import { constantOf } from '../builder.js';
import type { Node } from '../graph.js';
import { registerOp, type AttrSpec, type InferCtx, type UpgradeCtx } from '../registry.js';
import { broadcastShapes } from '../shape-utils.js';
import { Tensor } from '../tensor.js';
import { formatElemType, formatShape, isQuant, sameElemType, type ElemType, type Shape, type TensorType } from '../types.js';

const FLOATS: readonly DType[] = ['f64', 'f32', 'f16', 'bf16'];
const SINTS: readonly DType[] = ['i64', 'i32', 'i16', 'i8'];
const UINTS: readonly DType[] = ['u64', 'u32', 'u16', 'u8'];
const INTS: readonly DType[] = [...SINTS, ...UINTS];
const NUMERIC: readonly DType[] = [...FLOATS, ...INTS];
const BOOL: readonly DType[] = ['bool'];

/** Output = type of input 0 (unary, shape-preserving). */
export function sameAsInput0(ctx: InferCtx): TensorType[] {
  const t = ctx.inputs[0];
  if (!t) return ctx.fail('missing input 0');
  return [t];
}

/** Broadcast of all present inputs; dtype from input 0 (or `dtype` when given). */
export function broadcastInfer(ctx: InferCtx, dtype?: ElemType): TensorType[] {
  const ts = ctx.inputs.filter((t): t is TensorType => t !== undefined);
  if (ts.length === 0) return ctx.fail('no inputs');
  const shapes = ts.map((t) => t.shape);
  if (shapes.some((s) => s === undefined)) return [{ dtype: dtype ?? ts[0]!.dtype, shape: undefined }];
  const shape = broadcastShapes(shapes as Shape[]);
  if (!shape) return ctx.fail(`input shapes ${ts.map((t) => formatShape(t.shape)).join(', ')} do not broadcast`);
  return [{ dtype: dtype ?? ts[0]!.dtype, shape }];
}

/** Fail unless input `i` (when present, with a plain dtype) has one of `allowed`. */
function checkDType(ctx: InferCtx, i: number, allowed: readonly DType[]): void {
  const t = ctx.inputs[i];
  if (!t || isQuant(t.dtype) || allowed.includes(t.dtype)) return;
  ctx.fail(`input ${i} has dtype ${t.dtype}; ${ctx.node.op} takes ${allowed.join('|')}`);
}

/** Fail unless inputs `first..` that are present all have the same element type. */
function checkSameType(ctx: InferCtx, first = 0): void {
  const ts = ctx.inputs.slice(first).filter((t): t is TensorType => t !== undefined);
  const bad = ts.find((t) => !sameElemType(t.dtype, ts[0]!.dtype));
  if (bad) ctx.fail(`inputs must share one element type, got ${ts.map((t) => formatElemType(t.dtype)).join(', ')}`);
}

/** One row of an op table. */
interface EwSpec {
  /** ONNX name; the op registers as `onnx.<name>`. */
  readonly name: string;
  readonly summary: string;
  /** Dtypes every input may have (all inputs share one). */
  readonly types: readonly DType[];
  /** Result dtype when it is not the inputs' (comparisons, predicates). */
  readonly out?: DType;
  readonly attrs?: Readonly<Record<string, AttrSpec>>;
  /** Attribute checks beyond the schema. */
  readonly check?: (ctx: InferCtx) => void;
  /** Version of the op's latest schema (its canonical form) up to opset 23. */
  readonly since: number;
}

/** Register a table of same-type element-wise ops with `arity` inputs. */
function defineOps(specs: readonly EwSpec[], arity: readonly [number, number]): void {
  for (const s of specs) {
    registerOp({
      name: `onnx.${s.name}`, summary: s.summary, inputs: arity, outputs: [1, 1], attrs: s.attrs ?? {}, since: s.since,
      upgrade: arity[1] === 2 ? (s.name === 'PRelu' ? upgradePRelu : upgradeLegacyBroadcast) : undefined,
      infer: (ctx) => {
        ctx.inputs.forEach((_, i) => checkDType(ctx, i, s.types));
        checkSameType(ctx);
        s.check?.(ctx);
        return broadcastInfer(ctx, s.out);
      },
    });
  }
}

const float = (d: number): AttrSpec => ({ kind: 'float', default: d });
const int = (d: number): AttrSpec => ({ kind: 'int', default: d });

/** A check that string attribute `name` is one of `values`. */
const oneOf = (name: string, values: readonly string[]) => (ctx: InferCtx): void => {
  const v = ctx.attr<string>(name);
  if (!values.includes(v)) ctx.fail(`attribute '${name}' is "${v}"; expected ${values.map((x) => `"${x}"`).join(' or ')}`);
};

/** Unary math; the result has the input's type. */
const UNARY: readonly EwSpec[] = [
  { name: 'Abs', summary: '|x|', types: NUMERIC, since: 13 },
  { name: 'Neg', summary: '-x', types: [...FLOATS, ...SINTS], since: 13 },
  { name: 'Sign', summary: '-1, 0 or 1 by the sign of x', types: NUMERIC, since: 13 },
  { name: 'Sqrt', summary: 'square root', types: FLOATS, since: 13 },
  { name: 'Reciprocal', summary: '1 / x', types: FLOATS, since: 13 },
  { name: 'Exp', summary: 'e^x', types: FLOATS, since: 13 },
  { name: 'Log', summary: 'natural logarithm', types: FLOATS, since: 13 },
  { name: 'Erf', summary: 'Gauss error function', types: FLOATS, since: 13 },
  { name: 'Tanh', summary: 'hyperbolic tangent', types: FLOATS, since: 13 },
  { name: 'Sigmoid', summary: '1 / (1 + e^-x)', types: FLOATS, since: 13 },
  { name: 'Relu', summary: 'max(x, 0)', types: [...FLOATS, ...SINTS], since: 14 },
  { name: 'LeakyRelu', summary: 'x < 0 ? alpha*x : x', types: FLOATS, attrs: { alpha: float(0.01) }, since: 16 },
  { name: 'Elu', summary: 'x < 0 ? alpha*(e^x - 1) : x', types: FLOATS, attrs: { alpha: float(1) }, since: 22 },
  {
    name: 'Selu', summary: 'gamma * (x <= 0 ? alpha*(e^x - 1) : x)', types: FLOATS, since: 22,
    attrs: { alpha: float(1.67326319217681884765625), gamma: float(1.05070102214813232421875) },
  },
  { name: 'Celu', summary: 'max(0, x) + min(0, alpha*(e^(x/alpha) - 1))', types: FLOATS, attrs: { alpha: float(1) }, since: 12 },
  { name: 'ThresholdedRelu', summary: 'x > alpha ? x : 0', types: FLOATS, attrs: { alpha: float(1) }, since: 22 },
  {
    name: 'Gelu', summary: 'x * Phi(x), exact or with the tanh approximation', types: FLOATS, since: 20,
    attrs: { approximate: { kind: 'string', default: 'none' } }, check: oneOf('approximate', ['none', 'tanh']),
  },
  { name: 'HardSwish', summary: 'x * max(0, min(1, x/6 + 1/2))', types: FLOATS, since: 22 },
  { name: 'HardSigmoid', summary: 'max(0, min(1, alpha*x + beta))', types: FLOATS, attrs: { alpha: float(0.2), beta: float(0.5) }, since: 22 },
  { name: 'Softplus', summary: 'ln(1 + e^x)', types: FLOATS, since: 22 },
  { name: 'Softsign', summary: 'x / (1 + |x|)', types: FLOATS, since: 22 },
  { name: 'Mish', summary: 'x * tanh(softplus(x))', types: FLOATS, since: 22 },
  { name: 'Shrink', summary: 'x < -lambd ? x + bias : x > lambd ? x - bias : 0', types: NUMERIC, attrs: { bias: float(0), lambd: float(0.5) }, since: 9 },
  { name: 'Swish', summary: 'x * sigmoid(alpha * x)', types: FLOATS, attrs: { alpha: float(1) }, since: 24 },
  { name: 'Floor', summary: 'round toward -inf', types: FLOATS, since: 13 },
  { name: 'Ceil', summary: 'round toward +inf', types: FLOATS, since: 13 },
  { name: 'Round', summary: 'round half to even', types: FLOATS, since: 22 },
  ...(['Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan'] as const).map((name) => ({ name, summary: name.toLowerCase(), types: FLOATS, since: 22 })),
  ...(['Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh'] as const).map((name) => ({ name, summary: name.toLowerCase(), types: FLOATS, since: 22 })),
  { name: 'BitwiseNot', summary: '~x', types: INTS, since: 18 },
  { name: 'Not', summary: 'logical not', types: BOOL, since: 1 },
  { name: 'IsNaN', summary: 'x is NaN', types: [...FLOATS, 'f8e4m3', 'f8e5m2'], out: 'bool', since: 20 },
  {
    name: 'IsInf', summary: 'x is +inf (detect_positive) or -inf (detect_negative)', types: [...FLOATS, 'f8e4m3', 'f8e5m2'], out: 'bool',
    attrs: { detect_positive: int(1), detect_negative: int(1) }, since: 20,
  },
];

/** Binary ops with numpy broadcasting. */
const BINARY: readonly EwSpec[] = [
  { name: 'Add', summary: 'A + B', types: NUMERIC, since: 14 },
  { name: 'Sub', summary: 'A - B', types: NUMERIC, since: 14 },
  { name: 'Mul', summary: 'A * B', types: NUMERIC, since: 14 },
  { name: 'Div', summary: 'A / B (integers truncate toward zero)', types: NUMERIC, since: 14 },
  {
    name: 'Mod', summary: 'remainder: sign of the divisor, or of the dividend when fmod=1', types: NUMERIC, attrs: { fmod: int(0) }, since: 13,
    check: (ctx) => {
      const t = ctx.inputs[0]?.dtype;
      if (t && !isQuant(t) && isFloat(t) && ctx.attr<number>('fmod') !== 1) ctx.fail('fmod must be 1 for floating-point inputs');
    },
  },
  { name: 'PRelu', summary: 'X < 0 ? slope*X : X (slope broadcasts to X)', types: [...FLOATS, 'i64', 'i32', 'u64', 'u32'], since: 16 },
  {
    name: 'BitShift', summary: 'X << Y or X >> Y', types: UINTS, since: 11,
    attrs: { direction: { kind: 'string' } }, check: oneOf('direction', ['LEFT', 'RIGHT']),
  },
  { name: 'BitwiseAnd', summary: 'A & B', types: INTS, since: 18 },
  { name: 'BitwiseOr', summary: 'A | B', types: INTS, since: 18 },
  { name: 'BitwiseXor', summary: 'A ^ B', types: INTS, since: 18 },
  { name: 'And', summary: 'logical and', types: BOOL, since: 7 },
  { name: 'Or', summary: 'logical or', types: BOOL, since: 7 },
  { name: 'Xor', summary: 'logical xor', types: BOOL, since: 7 },
  { name: 'Equal', summary: 'A == B', types: [...NUMERIC, 'bool'], out: 'bool', since: 19 },
  { name: 'Less', summary: 'A < B', types: NUMERIC, out: 'bool', since: 13 },
  { name: 'LessOrEqual', summary: 'A <= B', types: NUMERIC, out: 'bool', since: 16 },
  { name: 'Greater', summary: 'A > B', types: NUMERIC, out: 'bool', since: 13 },
  { name: 'GreaterOrEqual', summary: 'A >= B', types: NUMERIC, out: 'bool', since: 16 },
];

/** Variadic ops over all inputs with multidirectional broadcasting. */
const VARIADIC: readonly EwSpec[] = [
  { name: 'Min', summary: 'element-wise minimum (NaN propagates)', types: NUMERIC, since: 13 },
  { name: 'Max', summary: 'element-wise maximum (NaN propagates)', types: NUMERIC, since: 13 },
  { name: 'Sum', summary: 'element-wise sum', types: FLOATS, since: 13 },
  { name: 'Mean', summary: 'element-wise mean', types: FLOATS, since: 13 },
];

defineOps(UNARY, [1, 1]);
defineOps(BINARY, [2, 2]);
defineOps(VARIADIC, [1, Infinity]);

registerOp({
  name: 'onnx.Pow', summary: 'X ^ Y; the result has the base type', inputs: [2, 2], outputs: [1, 1], attrs: {}, since: 15,
  infer: (ctx) => {
    checkDType(ctx, 0, [...FLOATS, 'i64', 'i32']);
    checkDType(ctx, 1, NUMERIC);
    return broadcastInfer(ctx);
  },
  upgrade: upgradeLegacyBroadcast,
});

registerOp({
  name: 'onnx.Where', summary: 'condition ? X : Y with three-way broadcasting', inputs: [3, 3], outputs: [1, 1], attrs: {}, since: 16,
  infer: (ctx) => {
    checkDType(ctx, 0, BOOL);
    checkSameType(ctx, 1);
    return broadcastInfer(ctx, ctx.inputs[1]?.dtype);
  },
});

registerOp({
  name: 'onnx.Clip', summary: 'min(max(x, min), max); min and max are optional scalar inputs', inputs: [1, 3], outputs: [1, 1], attrs: {}, since: 13,
  infer: (ctx) => {
    checkDType(ctx, 0, NUMERIC);
    checkSameType(ctx);
    return sameAsInput0(ctx);
  },
  upgrade: upgradeClip,
});

/** The dtype an ONNX data type code names; unsupported (not a type error) when Lutra cannot store it. */
function castTarget(ctx: InferCtx, code: number): DType {
  const d = dtypeFromOnnx(code);
  if (!d) throw new LutraError('unsupported', `cannot cast to ONNX data type ${code}: Lutra does not store it`, ctx.node.describe());
  return d;
}

const CAST_ATTRS = { saturate: int(1) };

registerOp({
  name: 'onnx.Cast', summary: 'convert to the dtype named by `to` (an ONNX data type code)', inputs: [1, 1], outputs: [1, 1],
  attrs: { to: { kind: 'int' }, ...CAST_ATTRS }, since: 21,
  infer: (ctx) => [{ dtype: castTarget(ctx, ctx.attr<number>('to')), shape: sameAsInput0(ctx)[0]!.shape }],
});

registerOp({
  name: 'onnx.CastLike', summary: 'convert input 0 to the element type of input 1', inputs: [2, 2], outputs: [1, 1], attrs: CAST_ATTRS, since: 21,
  infer: (ctx) => {
    const like = ctx.inputs[1];
    if (!like) return ctx.fail('missing input 1');
    return [{ dtype: like.dtype, shape: sameAsInput0(ctx)[0]!.shape }];
  },
});

// ---- opset upgrades (the importer reads opsets 6 and later) ----------------------------------

/** Reshape constant input `i` to `shape` (a new constant; the old one may still have other users). */
function reshapeConstantInput(node: Node, i: number, shape: readonly number[], ctx: UpgradeCtx): boolean {
  const v = node.inputs[i];
  const t = v && constantOf(ctx.graph, v);
  if (!v || !t) return false;
  node.inputs[i] = ctx.constant(t.reshape(shape), `${v.name}_bcast`);
  return true;
}

/**
 * Opset < 7 binary ops: `broadcast=1` aligns B with A starting at `axis` (default: trailing
 * dims, i.e. numpy). A constant B is reshaped with trailing 1s so numpy broadcasting gives the
 * same result; a non-constant B with a non-trailing axis cannot be expressed and is refused.
 */
function upgradeLegacyBroadcast(node: Node, ctx: UpgradeCtx): void {
  if (ctx.opset >= 7) return;
  const { broadcast, axis } = node.attrs as { broadcast?: number; axis?: number };
  delete node.attrs.broadcast;
  delete node.attrs.axis;
  const a = node.inputs[0]?.type.shape;
  const b = node.inputs[1]?.type.shape;
  if (!broadcast || axis === undefined || !a || !b) return;
  const start = axis < 0 ? axis + a.length : axis;
  const trailing = a.length - start - b.length;
  if (trailing === 0) return;
  const bs = b.map((d) => (typeof d === 'number' ? d : NaN));
  if (trailing < 0 || bs.some(Number.isNaN) || !reshapeConstantInput(node, 1, [...bs, ...new Array<number>(trailing).fill(1)], ctx)) {
    ctx.fail(`opset ${ctx.opset} broadcast with axis=${axis} needs a constant second input of known shape`);
  }
}

/** Opset < 7 PRelu: a 1-D slope of size C applies per channel (axis 1), not along the last axis. */
function upgradePRelu(node: Node, ctx: UpgradeCtx): void {
  if (ctx.opset >= 7) return;
  const x = node.inputs[0]?.type.shape;
  const slope = node.inputs[1]?.type.shape;
  if (!x || !slope || slope.length !== 1 || x.length <= 2 || slope[0] === 1 || typeof slope[0] !== 'number') return;
  if (!reshapeConstantInput(node, 1, [slope[0], ...new Array<number>(x.length - 2).fill(1)], ctx)) {
    ctx.fail(`opset ${ctx.opset} per-channel PRelu needs a constant slope`);
  }
}

/** Opset < 11 Clip: the `min`/`max` attributes become scalar constant inputs of x's dtype. */
function upgradeClip(node: Node, ctx: UpgradeCtx): void {
  if (ctx.opset >= 11) return;
  const { min, max } = node.attrs as { min?: number; max?: number };
  delete node.attrs.min;
  delete node.attrs.max;
  const x = node.inputs[0]!;
  const dtype = !isQuant(x.type.dtype) && isFloat(x.type.dtype) ? x.type.dtype : 'f32';
  const bound = (v: number | undefined, hint: string) => (v === undefined ? null : ctx.constant(Tensor.scalar(dtype, v), `${x.name}_${hint}`));
  node.inputs = [x, bound(min, 'min'), bound(max, 'max')];
  while (node.inputs[node.inputs.length - 1] === null) node.inputs.pop();
}
