/**
 * @fileoverview Attention ops: scaled dot-product Attention (MHA / GQA / MQA, 3-D or 4-D
 * operands, masks, causal masking, KV cache with present outputs, softcap, the optional
 * qk_matmul_output) and RotaryEmbedding. Shape helpers are shared with the interpreter kernels.
 */
import type { DType } from '../dtype.js';
import { registerOp, type AttrSpec, type InferCtx } from '../registry.js';
import { broadcastShapes } from '../shape-utils.js';
import { formatShape, isQuant, type Dim, type TensorType } from '../types.js';
import { FLOATS } from './nn.js';

const int = (d: number): AttrSpec => ({ kind: 'int', default: d });
const optInt: AttrSpec = { kind: 'int', optional: true };

/** Input `i` when present, failing when its dtype is outside `allowed`. */
function optionalInput(ctx: InferCtx, i: number, allowed: readonly DType[]): TensorType | undefined {
  const t = ctx.inputs[i];
  if (t && (isQuant(t.dtype) || !allowed.includes(t.dtype))) {
    ctx.fail(`input ${i} has dtype ${isQuant(t.dtype) ? 'quant' : t.dtype}; ${ctx.node.op} takes ${allowed.join('|')}`);
  }
  return t;
}

/** Input `i`, failing when it is absent or has a dtype outside `allowed`. */
function requiredInput(ctx: InferCtx, i: number, allowed: readonly DType[]): TensorType {
  return optionalInput(ctx, i, allowed) ?? ctx.fail(`missing input ${i}`);
}

/** Product of two dims ('?' unless both are known). */
const mulDim = (a: Dim | undefined, b: Dim | undefined): Dim => (typeof a === 'number' && typeof b === 'number' ? a * b : '?');

/** Sum of two dims ('?' unless both are known). */
const addDim = (a: Dim | undefined, b: Dim | undefined): Dim => (typeof a === 'number' && typeof b === 'number' ? a + b : '?');

/** `hidden / heads`, failing when a known hidden size does not split into `heads` heads. */
function splitHeads(ctx: InferCtx, hidden: Dim | undefined, heads: number, what: string): Dim {
  if (typeof hidden !== 'number') return '?';
  if (hidden % heads !== 0) ctx.fail(`${what} hidden size ${hidden} does not split into ${heads} heads`);
  return hidden / heads;
}

/** The head counts a 3-D Attention needs; fails when an attribute is missing or does not divide. */
function headCounts(ctx: InferCtx): { q: number; kv: number } {
  const q = ctx.attr<number>('q_num_heads') as number | undefined;
  const kv = ctx.attr<number>('kv_num_heads') as number | undefined;
  if (!q || !kv) return ctx.fail('3-D Q, K, V need the q_num_heads and kv_num_heads attributes');
  if (q % kv !== 0) ctx.fail(`q_num_heads ${q} is not a multiple of kv_num_heads ${kv}`);
  return { q, kv };
}

/** Attention output types: Y, present_key, present_value, qk_matmul_output (as many as the node has). */
function inferAttention(ctx: InferCtx): TensorType[] {
  const q = requiredInput(ctx, 0, FLOATS);
  const k = requiredInput(ctx, 1, FLOATS);
  const v = requiredInput(ctx, 2, FLOATS);
  if (k.dtype !== q.dtype) ctx.fail(`Q and K dtypes differ: ${String(q.dtype)} and ${String(k.dtype)}`);
  const mask = optionalInput(ctx, 3, [...FLOATS, 'bool']);
  if (mask && mask.dtype !== 'bool' && mask.dtype !== q.dtype) ctx.fail(`a float attn_mask must have Q's dtype ${String(q.dtype)}, got ${String(mask.dtype)}`);
  const pastK = optionalInput(ctx, 4, FLOATS);
  const pastV = optionalInput(ctx, 5, FLOATS);
  if (!pastK !== !pastV) ctx.fail('past_key and past_value must both be given or both omitted');
  optionalInput(ctx, 6, ['i64']);
  const mode = ctx.attr<number>('qk_matmul_output_mode');
  if (![0, 1, 2, 3].includes(mode)) ctx.fail(`qk_matmul_output_mode ${mode} is not 0, 1, 2 or 3`);
  if (ctx.attr<number>('is_causal') !== 0 && ctx.attr<number>('is_causal') !== 1) ctx.fail('is_causal must be 0 or 1');
  const scale = ctx.attr<number>('scale') as number | undefined;
  if (scale !== undefined && !(scale > 0)) ctx.fail(`scale ${scale} must be positive`);

  const qd = q.dtype as DType;
  const vd = v.dtype as DType;
  const unknown = (): TensorType[] => [{ dtype: qd, shape: undefined }, { dtype: qd, shape: undefined }, { dtype: vd, shape: undefined }, { dtype: qd, shape: undefined }].slice(0, ctx.numOutputs);
  const [qs, ks, vs] = [q.shape, k.shape, v.shape];
  if (!qs || !ks || !vs) return unknown();
  if (qs.length !== ks.length || qs.length !== vs.length || (qs.length !== 3 && qs.length !== 4)) {
    ctx.fail(`Q, K, V must all be 3-D or all 4-D, got ${formatShape(qs)}, ${formatShape(ks)}, ${formatShape(vs)}`);
  }
  let batch: Dim, hq: Dim, hkv: Dim, sq: Dim, skv: Dim, dk: Dim, dv: Dim;
  if (qs.length === 3) {
    const h = headCounts(ctx);
    [batch, sq, skv, hq, hkv] = [qs[0]!, qs[1]!, ks[1]!, h.q, h.kv];
    splitHeads(ctx, qs[2], h.q, 'Q');
    dk = splitHeads(ctx, ks[2], h.kv, 'K');
    dv = splitHeads(ctx, vs[2], h.kv, 'V');
  } else {
    [batch, hq, sq, skv, hkv, dk, dv] = [qs[0]!, qs[1]!, qs[2]!, ks[2]!, ks[1]!, ks[3]!, vs[3]!];
    if (typeof qs[3] === 'number' && typeof ks[3] === 'number' && qs[3] !== ks[3]) ctx.fail(`Q head size ${qs[3]} differs from K head size ${ks[3]}`);
    if (typeof hq === 'number' && typeof hkv === 'number' && hq % hkv !== 0) ctx.fail(`Q has ${hq} heads, not a multiple of K's ${hkv}`);
  }
  const past = pastK?.shape;
  if (past && past.length !== 4) ctx.fail(`past_key must be 4-D, got ${formatShape(past)}`);
  const total = past ? addDim(past[2], skv) : skv;
  const ms = mask?.shape;
  if (ms) {
    const lead = ms.slice(0, -1);
    if (ms.length === 0 || ms.length > 4 || !broadcastShapes([lead, [batch, hq, sq].slice(3 - lead.length)])) {
      ctx.fail(`attn_mask of shape ${formatShape(ms)} does not broadcast to [batch, q_heads, q_seq, total_seq]`);
    }
    const len = ms[ms.length - 1];
    if (typeof len === 'number' && typeof total === 'number' && len > total) ctx.fail(`attn_mask has ${len} key positions, more than the ${total} keys`);
  }
  const y: Dim[] = qs.length === 3 ? [batch, sq, mulDim(hq, dv)] : [batch, hq, sq, dv];
  return [
    { dtype: qd, shape: y },
    { dtype: qd, shape: [batch, hkv, total, dk] },
    { dtype: vd, shape: [batch, hkv, total, dv] },
    { dtype: qd, shape: [batch, hq, sq, total] },
  ].slice(0, ctx.numOutputs);
}

registerOp({
  name: 'onnx.Attention',
  summary: 'softmax(softcap(Q K^T * scale) + mask) V over heads (GQA when K/V have fewer heads); optional KV cache (past → present) and qk_matmul_output',
  inputs: [3, 7], outputs: [1, 4], since: 24,
  attrs: {
    is_causal: int(0), kv_num_heads: optInt, q_num_heads: optInt, qk_matmul_output_mode: int(0),
    scale: { kind: 'float', optional: true }, softcap: { kind: 'float', default: 0 }, softmax_precision: optInt,
  },
  infer: inferAttention,
});

registerOp({
  name: 'onnx.RotaryEmbedding',
  summary: 'rotate pairs of the first rotary_embedding_dim features of each head by cos/sin caches (halves, or interleaved pairs)',
  inputs: [3, 4], outputs: [1, 1], since: 23,
  attrs: { interleaved: int(0), num_heads: optInt, rotary_embedding_dim: int(0) },
  infer: (ctx) => {
    const x = requiredInput(ctx, 0, FLOATS);
    const cos = requiredInput(ctx, 1, FLOATS);
    const sin = requiredInput(ctx, 2, FLOATS);
    if (cos.dtype !== x.dtype || sin.dtype !== x.dtype) ctx.fail('cos_cache and sin_cache must have the input dtype');
    optionalInput(ctx, 3, ['i64']);
    const xs = x.shape;
    if (xs && xs.length !== 3 && xs.length !== 4) ctx.fail(`input must be 3-D or 4-D, got ${formatShape(xs)}`);
    if (xs?.length === 3) {
      const heads = ctx.attr<number>('num_heads') as number | undefined;
      splitHeads(ctx, xs[2], heads || ctx.fail('a 3-D input needs the num_heads attribute'), 'input');
    }
    const rot = ctx.attr<number>('rotary_embedding_dim');
    if (rot % 2 !== 0) ctx.fail(`rotary_embedding_dim ${rot} must be even`);
    return [x];
  },
});
