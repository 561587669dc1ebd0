/**
 * @fileoverview Buffer planning: weights are packed once at the bottom of memory; inputs,
 * outputs and activations share one arena where buffers whose live ranges (first to last
 * dispatch touching them) do not overlap may share addresses. Placement is greedy by size,
 * largest first, each at the lowest address free for its whole live range.
 */
import { assert } from '../../ir/diagnostics.js';
import { numberToF16Bits } from '../../ir/dtype.js';
import type { Tensor } from '../../ir/tensor.js';
import { type Storage, storageBytes } from '../kernel-ir.js';
import type { IoSignature, PlannedBuffer, Program } from '../program.js';
import type { WeightSegment } from '../../runtime/executor.js';
import type { Buf, Lowering } from './lowering.js';

const ALIGN = 16;
const align = (n: number, a = ALIGN) => Math.ceil(n / a) * a;

/** Little-endian bytes of a weight tensor in its buffer's storage type. */
function weightBytes(t: Tensor, elem: Storage): Uint8Array {
  const n = t.size;
  switch (elem) {
    case 'f32': return new Uint8Array(Float32Array.from(t.data as ArrayLike<number>).buffer);
    case 'f16': return new Uint8Array(Uint16Array.from(t.data as ArrayLike<number>, numberToF16Bits).buffer);
    case 'i64': return new Uint8Array(BigInt64Array.from(t.data as ArrayLike<bigint>).buffer);
    case 'i32': return new Uint8Array(Int32Array.from(t.data as ArrayLike<number>).buffer);
    case 'i16': case 'u16': return new Uint8Array(Int16Array.from(t.data as ArrayLike<number>).buffer);
    case 'i8': case 'u8': case 'bool': return new Uint8Array(Int8Array.from(t.data as ArrayLike<number>).buffer);
    case 'i4': case 'u4': case 'i2': {
      const bits = elem === 'i2' ? 2 : 4;
      const out = new Uint8Array(storageBytes(elem, n));
      const mask = (1 << bits) - 1;
      for (let i = 0; i < n; i++) out[(i * bits) >> 3]! |= (t.get(i) & mask) << ((i * bits) & 7);
      return out;
    }
  }
}

/** Lay out the buffers of `lw` and assemble the program. */
export function plan(lw: Lowering, name: string, inputs: readonly IoSignature[], outputs: readonly IoSignature[]): Program {
  const n = lw.dispatches.length;
  const live = new Map<string, [number, number]>();
  lw.dispatches.forEach((d, i) => {
    // a guarded dispatch reads its conditions' buffers
    for (const b of [...Object.values(d.bind), ...(d.when ?? []).map((c) => c.buf)]) {
      const r = live.get(b);
      if (r) r[1] = i; else live.set(b, [i, i]);
    }
  });
  const used = lw.buffers.filter((b) => live.has(b.name) || b.kind === 'input' || b.kind === 'output');
  for (const b of used) {
    const r = live.get(b.name) ?? [0, 0];
    if (b.kind === 'input') r[0] = 0;
    if (b.kind === 'output') r[1] = Math.max(n - 1, 0);
    live.set(b.name, r);
  }
  const planned: PlannedBuffer[] = [];
  // an f32 buffer of an f16 tensor is stored as halves in the file (half the bytes) and widened on load
  const segments: WeightSegment[] = [];
  const chunks: Uint8Array[] = [];
  let w = 0;
  let fw = 0;
  for (const b of used.filter((x) => x.kind === 'weight')) {
    assert(b.data, `weight buffer ${b.name} has no data`);
    const widen = b.elem === 'f32' && b.data.dtype === 'f16';
    const bytes = weightBytes(b.data, widen ? 'f16' : b.elem);
    const memBytes = widen ? 2 * bytes.length : bytes.length;
    planned.push({ name: b.name, kind: 'weight', elem: b.elem, size: b.size, offset: w, bytes: memBytes });
    segments.push({ fileOffset: fw, offset: w, bytes: bytes.length, ...(widen ? { f16: true as const } : {}) });
    chunks.push(bytes);
    w = align(w + memBytes);
    fw = align(fw + bytes.length);
  }
  const weights = new Uint8Array(fw);
  chunks.forEach((c, i) => weights.set(c, segments[i]!.fileOffset));

  const arenaOffset = align(w, 64);
  const placed: { b: Buf; offset: number; bytes: number; range: [number, number] }[] = [];
  const order = used.filter((b) => b.kind !== 'weight').sort((a, b) => storageBytes(b.elem, b.size) - storageBytes(a.elem, a.size));
  for (const b of order) {
    const bytes = align(storageBytes(b.elem, b.size));
    const range = live.get(b.name)!;
    const busy = placed.filter((p) => p.range[0] <= range[1] && range[0] <= p.range[1]).sort((x, y) => x.offset - y.offset);
    let offset = 0;
    for (const p of busy) {
      if (offset + bytes <= p.offset) break;
      offset = Math.max(offset, p.offset + p.bytes);
    }
    placed.push({ b, offset, bytes, range });
  }
  let arenaBytes = 0;
  for (const p of placed) {
    arenaBytes = Math.max(arenaBytes, p.offset + p.bytes);
    planned.push({ name: p.b.name, kind: p.b.kind, elem: p.b.elem, size: p.b.size, offset: arenaOffset + p.offset, bytes: storageBytes(p.b.elem, p.b.size), live: p.range });
  }
  let peak = 0;
  for (let t = 0; t < Math.max(n, 1); t++) {
    peak = Math.max(peak, placed.filter((p) => p.range[0] <= t && t <= p.range[1]).reduce((s, p) => s + p.bytes, 0));
  }
  return {
    name,
    buffers: planned,
    dispatches: lw.dispatches,
    inputs,
    outputs,
    memory: { total: arenaOffset + arenaBytes, weightsOffset: 0, weightsBytes: w, arenaOffset, arenaBytes, peakActivationBytes: peak },
    weights,
    ...(segments.some((s) => s.f16) ? { weightSegments: segments } : {}),
  };
}
