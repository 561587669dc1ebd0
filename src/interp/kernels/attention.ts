/**
 * @fileoverview Attention kernels. Attention works on [batch, heads, seq, head_size] float64
 * copies (3-D operands are split into heads first), builds each query row's additive bias
 * from attn_mask, is_causal and nonpad_kv_seqlen, and rounds every output once. GQA maps query
 * head h to KV head floor(h / (q_heads / kv_heads)); a fully masked row attends to nothing (zero
 * probabilities, Y = 0), as the ONNX conformance data expects. RotaryEmbedding rotates feature pairs.
 */
import { getAttr } from '../../ir/registry.js';
import type { Tensor } from '../../ir/tensor.js';
import { registerKernel } from '../kernel.js';
import { broadcastIndex } from './elementwise.js';
import { f64, fromF64 } from './nn.js';

/** A float64 tensor in [batch, heads, seq, head_size] layout. */
interface Heads {
  readonly data: Float64Array;
  readonly b: number;
  readonly h: number;
  readonly s: number;
  readonly d: number;
}

/** `t` as [B, H, S, D]: 4-D as is, 3-D [B, S, H·D] split into `heads` heads and transposed. */
export function toHeads(t: Tensor, heads: number): Heads {
  const X = f64(t);
  if (t.rank === 4) {
    const [b, h, s, d] = t.shape as [number, number, number, number];
    return { data: X, b, h, s, d };
  }
  if (t.rank !== 3) throw new Error(`attention operands must be 3-D or 4-D, got [${t.shape.join(',')}]`);
  const [b, s, hidden] = t.shape as [number, number, number];
  const d = hidden / heads;
  if (!Number.isInteger(d)) throw new Error(`hidden size ${hidden} does not split into ${heads} heads`);
  const out = new Float64Array(X.length);
  for (let n = 0; n < b; n++) for (let i = 0; i < s; i++) for (let h = 0; h < heads; h++) {
    const src = (n * s + i) * hidden + h * d;
    out.set(X.subarray(src, src + d), ((n * heads + h) * s + i) * d);
  }
  return { data: out, b, h: heads, s, d };
}

/** `cur` appended to `past` along the sequence axis (`past` absent: `cur` itself). */
export function concatSeq(past: Heads | undefined, cur: Heads): Heads {
  if (!past) return cur;
  if (past.b !== cur.b || past.h !== cur.h || past.d !== cur.d) {
    throw new Error(`past [${past.b},${past.h},${past.s},${past.d}] does not match [${cur.b},${cur.h},${cur.s},${cur.d}]`);
  }
  const s = past.s + cur.s;
  const out = new Float64Array(cur.b * cur.h * s * cur.d);
  for (let bh = 0; bh < cur.b * cur.h; bh++) {
    out.set(past.data.subarray(bh * past.s * past.d, (bh + 1) * past.s * past.d), bh * s * cur.d);
    out.set(cur.data.subarray(bh * cur.s * cur.d, (bh + 1) * cur.s * cur.d), (bh * s + past.s) * cur.d);
  }
  return { data: out, b: cur.b, h: cur.h, s, d: cur.d };
}

/** What the additive bias of one score depends on. */
interface BiasSpec {
  /** Mask values broadcast to [B, Hq, Sq, maskLen] (0 / -inf for a bool mask), or undefined. */
  readonly mask?: { values: Float64Array; index: Int32Array; len: number };
  readonly causal: boolean;
  /** Causal offset per batch: query i may see keys j <= i + offset[b]. */
  readonly offset: (b: number) => number;
  /** Valid key count per batch (nonpad_kv_seqlen), or undefined. */
  readonly valid?: (b: number) => number;
}

/** Mask values as float64 bias: bool true → 0, false → -inf; floats as they are. */
function maskBias(mask: Tensor): Float64Array {
  if (mask.dtype !== 'bool') return f64(mask);
  const m = mask.data as Uint8Array;
  return Float64Array.from(m, (x) => (x ? 0 : -Infinity));
}

/** Fill `row` (length L) with the bias of query i of (b, h). */
function biasRow(spec: BiasSpec, row: Float64Array, b: number, h: number, i: number, hq: number, sq: number): void {
  const L = row.length;
  const m = spec.mask;
  if (m) {
    const base = ((b * hq + h) * sq + i) * m.len;
    for (let j = 0; j < L; j++) row[j] = j < m.len ? m.values[m.index[base + j]!]! : -Infinity;
  } else {
    row.fill(0);
  }
  if (spec.causal) {
    const last = i + spec.offset(b);
    for (let j = Math.max(0, last + 1); j < L; j++) row[j] = -Infinity;
  }
  if (spec.valid) for (let j = Math.max(0, spec.valid(b)); j < L; j++) row[j] = -Infinity;
}

/** In-place softmax of a row whose largest element is `max`; a fully masked row (max -inf) becomes all zeros. */
function softmaxRow(row: Float64Array, max: number): void {
  if (max === -Infinity) {
    row.fill(0);
    return;
  }
  let sum = 0;
  for (let j = 0; j < row.length; j++) sum += (row[j] = Math.exp(row[j]! - max));
  for (let j = 0; j < row.length; j++) row[j]! /= sum;
}

/** qk_matmul_output modes: 0 scaled Q·K^T, 1 after softcap, 2 after the mask bias, 3 softmax probabilities. */
registerKernel('onnx.Attention', (inputs, node) => {
  const [q, k, v, mask, pastK, pastV, nonpad] = inputs;
  const rank3 = q!.rank === 3;
  const qHeads = rank3 ? getAttr<number>(node, 'q_num_heads') : q!.shape[1]!;
  const kvHeads = rank3 ? getAttr<number>(node, 'kv_num_heads') : k!.shape[1]!;
  const Q = toHeads(q!, qHeads);
  const K = concatSeq(pastK && toHeads(pastK, kvHeads), toHeads(k!, kvHeads));
  const V = concatSeq(pastV && toHeads(pastV, kvHeads), toHeads(v!, kvHeads));
  const { b: B, h: Hq, s: Sq, d: D } = Q;
  const { h: Hkv, s: L } = K;
  const Dv = V.d;
  if (K.d !== D) throw new Error(`Q head size ${D} differs from K head size ${K.d}`);
  if (Hq % Hkv !== 0 || V.h !== Hkv) throw new Error(`${Hq} query heads do not group over ${Hkv} key / ${V.h} value heads`);
  if (V.s !== L) throw new Error(`K has ${L} positions (past included), V has ${V.s}`);
  const group = Hq / Hkv;

  const scale = (getAttr<number>(node, 'scale') as number | undefined) ?? 1 / Math.sqrt(D);
  const softcap = getAttr<number>(node, 'softcap');
  const mode = getAttr<number>(node, 'qk_matmul_output_mode');
  const wantQk = node.outputs.length > 3;
  const seqlen = nonpad && Array.from(nonpad.data as BigInt64Array, Number);
  const pastLen = pastK ? pastK.shape[2]! : 0;
  let maskSpec: BiasSpec['mask'];
  if (mask) {
    const len = mask.shape[mask.rank - 1] ?? 1;
    if (len > L) throw new Error(`attn_mask has ${len} key positions, more than the ${L} keys`);
    maskSpec = { values: maskBias(mask), index: broadcastIndex(mask.shape, [B, Hq, Sq, len]), len };
  }
  const spec: BiasSpec = {
    mask: maskSpec,
    causal: getAttr<number>(node, 'is_causal') === 1,
    offset: pastK || !seqlen ? () => pastLen : (b) => seqlen[b]! - Sq,
    valid: seqlen && ((b) => seqlen[b]!),
  };

  const Y = new Float64Array(B * Hq * Sq * Dv);
  const QK = wantQk ? new Float64Array(B * Hq * Sq * L) : undefined;
  const raw = new Float64Array(L);
  const scores = new Float64Array(L);
  for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) {
    const kvBase = (b * Hkv + Math.floor(h / group)) * L;
    for (let i = 0; i < Sq; i++) {
      const qOff = ((b * Hq + h) * Sq + i) * D;
      for (let j = 0; j < L; j++) {
        const kOff = (kvBase + j) * D;
        let s = 0;
        for (let c = 0; c < D; c++) s += Q.data[qOff + c]! * K.data[kOff + c]!;
        raw[j] = s * scale;
      }
      const qkOff = ((b * Hq + h) * Sq + i) * L;
      if (QK && mode === 0) QK.set(raw, qkOff);
      if (softcap > 0) for (let j = 0; j < L; j++) raw[j] = softcap * Math.tanh(raw[j]! / softcap);
      if (QK && mode === 1) QK.set(raw, qkOff);
      biasRow(spec, scores, b, h, i, Hq, Sq);
      let max = -Infinity;
      for (let j = 0; j < L; j++) {
        scores[j]! += raw[j]!;
        if (scores[j]! > max) max = scores[j]!;
      }
      if (QK && mode === 2) QK.set(scores, qkOff);
      softmaxRow(scores, max);
      if (QK && mode === 3) QK.set(scores, qkOff);
      const yOff = ((b * Hq + h) * Sq + i) * Dv;
      for (let j = 0; j < L; j++) {
        const p = scores[j]!;
        const vOff = (kvBase + j) * Dv;
        for (let c = 0; c < Dv; c++) Y[yOff + c]! += p * V.data[vOff + c]!;
      }
    }
  }

  let y: Tensor;
  if (rank3) {
    const t = new Float64Array(Y.length);
    for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) for (let i = 0; i < Sq; i++) {
      const src = ((b * Hq + h) * Sq + i) * Dv;
      t.set(Y.subarray(src, src + Dv), ((b * Sq + i) * Hq + h) * Dv);
    }
    y = fromF64(q!.dtype, [B, Sq, Hq * Dv], t);
  } else {
    y = fromF64(q!.dtype, [B, Hq, Sq, Dv], Y);
  }
  const outs = [y, fromF64(k!.dtype, [B, Hkv, L, D], K.data), fromF64(v!.dtype, [B, Hkv, L, Dv], V.data)];
  if (QK) outs.push(fromF64(q!.dtype, [B, Hq, Sq, L], QK));
  return outs.slice(0, node.outputs.length);
});

registerKernel('onnx.RotaryEmbedding', ([x, cosCache, sinCache, positions], node) => {
  const rank3 = x!.rank === 3;
  const heads = rank3 ? getAttr<number>(node, 'num_heads') : x!.shape[1]!;
  const X = toHeads(x!, heads);
  const { b: B, h: H, s: S, d: D } = X;
  const rot = getAttr<number>(node, 'rotary_embedding_dim') || D;
  const half = rot / 2;
  const interleaved = getAttr<number>(node, 'interleaved') !== 0;
  const [C, Sn] = [f64(cosCache!), f64(sinCache!)];
  const width = cosCache!.shape[cosCache!.rank - 1]!;
  const pos = positions && Array.from(positions.data as BigInt64Array, Number);
  // row of the caches for (b, i): position_ids[b, i] indexes [max_pos, width]; else caches are [B, S, width]
  const cacheRow = (b: number, i: number): number => (pos ? pos[b * S + i]! : b * S + i) * width;
  const out = Float64Array.from(X.data);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
    const off = ((b * H + h) * S + i) * D;
    const row = cacheRow(b, i);
    for (let j = 0; j < half; j++) {
      const [a, c] = interleaved ? [off + 2 * j, off + 2 * j + 1] : [off + j, off + half + j];
      const x1 = X.data[a]!;
      const x2 = X.data[c]!;
      const cos = C[row + j]!;
      const sin = Sn[row + j]!;
      out[a] = cos * x1 - sin * x2;
      out[c] = sin * x1 + cos * x2;
    }
  }
  if (!rank3) return [fromF64(x!.dtype, x!.shape, out)];
  const t = new Float64Array(out.length);
  for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < S; i++) {
    const src = ((b * H + h) * S + i) * D;
    t.set(out.subarray(src, src + D), ((b * S + i) * H + h) * D);
  }
  return [fromF64(x!.dtype, x!.shape, t)];
});
