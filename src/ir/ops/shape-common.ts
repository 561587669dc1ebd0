/**
 * @fileoverview Helpers shared by the shape-family op definitions (shape, gather, resize, einsum)
 * and reduce: attribute specs, input access (`need`, `constInts`), axis normalization, the
 * attribute-to-input upgrade and a reduction's output shape.
 */
import type { Node } from '../graph.js';
import type { AttrSpec, InferCtx, UpgradeCtx } from '../registry.js';
import { normalizeAxis } from '../shape-utils.js';
import { Tensor } from '../tensor.js';
import type { Dim, Shape, TensorType } from '../types.js';

/** Attribute specs: int / float / string with a default, optional int / ints. */
export const int = (d: number): AttrSpec => ({ kind: 'int', default: d });
export const float = (d: number): AttrSpec => ({ kind: 'float', default: d });
export const str = (d: string): AttrSpec => ({ kind: 'string', default: d });
export const optInt: AttrSpec = { kind: 'int', optional: true };
export const optInts: AttrSpec = { kind: 'ints', optional: true };

/** Input `i`, failing when it is omitted. */
export function need(ctx: InferCtx, i: number): TensorType {
  const t = ctx.inputs[i];
  if (!t) return ctx.fail(`missing input ${i}`);
  return t;
}

/** Statically known integer input `i` (shape, axes, pads), or undefined. */
export function constInts(ctx: InferCtx, i: number): number[] | undefined {
  return ctx.constant(i)?.toNumbers();
}

/** Normalize `axis` against `rank` or fail naming it. */
export function axisIn(ctx: InferCtx, axis: number, rank: number): number {
  const a = normalizeAxis(axis, rank);
  if (a === undefined) return ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Set input `i` of `node`, padding with omitted (null) inputs. */
export function setInput(node: Node, i: number, v: Node['inputs'][number]): void {
  while (node.inputs.length <= i) node.inputs.push(null);
  node.inputs[i] = v;
}

/** Name hint for constants an upgrade creates. */
export const hint = (node: Node, what: string): string => `${node.name || node.outputs[0]?.name || 'node'}_${what}`;

/** Move attribute `name` (ints, or one int) to input `i` as an i64 constant; absent attributes leave the input omitted. */
export function attrToInput(node: Node, ctx: UpgradeCtx, name: string, i: number): void {
  const v = node.attrs[name] as number | number[] | undefined;
  delete node.attrs[name];
  if (v === undefined) return;
  const list = Array.isArray(v) ? v : [v];
  setInput(node, i, ctx.constant(Tensor.from('i64', [list.length], list), hint(node, name)));
}

/** Inference for ops whose one output has the type of input 0. */
export const same = (ctx: InferCtx): TensorType[] => [need(ctx, 0)];
/** One output of `t`'s dtype and unknown rank. */
export const unknownRank = (t: TensorType): TensorType[] => [{ dtype: t.dtype, shape: undefined }];

/** Output shape of a reduction over `axes` (sorted, normalized). */
export function reducedShape(shape: Shape, axes: readonly number[], keepdims: boolean): Dim[] {
  const out: Dim[] = [];
  shape.forEach((d, i) => { if (!axes.includes(i)) out.push(d); else if (keepdims) out.push(1); });
  return out;
}
