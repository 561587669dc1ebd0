/**
 * @fileoverview `channel-permute`: channel permutation for block (group) weight formats
 * (techniques §6, §12). W4A16 quantizes a linear layer's weight W [K, N] in groups of g
 * consecutive input channels along K per column, one scale per group: a few large rows stretch
 * the scale of every group they sit in. For a permutation π of [0, K),
 *
 *     Y = X·W = X[:, π] · W[π, :]
 *
 * so permuting the channels of X and the rows of W identically computes the same function in
 * float (only the order of the reduction changes) while regrouping the rows. π sorts the
 * channels by key_j = max_consumers max_n |W_jn| (`by=weight`), or mean|X_j| · max_n |W_jn|
 * (`by=activation`), descending: rows of like magnitude share groups, the outlier rows together,
 * and the other groups get finer scales. It is kept only if the group-quantized weight error
 *
 *     E(π) = Σ_consumers Σ_j m_j² ‖Q(W[π, :])_π⁻¹(j) − W_j‖²,   m_j = mean|X_j| (1 without calibration)
 *
 * goes down. Unlike a per-channel scale (src/quant/migrate.ts), a permutation does not fold
 * into a norm's γ/β alone — LN(x)[π] needs x[π] — but it passes through every op that treats
 * channels alike. So the pass grows a *channel space* from each linear input X: the values
 * that must be permuted together, through elementwise ops (GELU, biases, residual Adds),
 * norms (γ, β permuted), reductions over the channels (invariant), channel-keeping
 * Reshape / Transpose / Gather / Concat / Slice, ending at constants (permuted along their
 * channel axis: linear weights' output columns, biases, embedding tables) and at the consumers'
 * weight rows. A transformer's residual stream is one space; an MLP's hidden layer another.
 * Where a space meets an op that mixes channels (a graph input or output, attention heads), it
 * is skipped, or with `explicit=true` an onnx.Gather along the last axis permutes (or restores)
 * the channels there.
 */
import { Builder, constantOf } from '../ir/builder.js';
import { fail } from '../ir/diagnostics.js';
import { Graph, type Node, type Value } from '../ir/graph.js';
import { getAttr } from '../ir/registry.js';
import { Tensor } from '../ir/tensor.js';
import { channelPreserving, siteStats, weightKN } from '../quant/migrate.js';
import { type QuantScheme, fakeQuant, paramsForTensor } from '../quant/quantizer.js';
import { eraseDead } from '../rewrite/erase.js';
import { definePass, registerPass } from './manager.js';

const LINEARS = new Set(['onnx.MatMul', 'fused.MatMulAdd', 'onnx.Gemm']);

/** Ops that act on every channel alike, element by element (operands broadcast). */
const ELEMENTWISE = new Set([
  'Abs', 'Neg', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'LeakyRelu', 'Elu', 'Selu', 'Celu',
  'Gelu', 'HardSwish', 'HardSigmoid', 'Softplus', 'Softsign', 'Mish', 'Swish', 'Floor', 'Ceil', 'Round', 'Sin', 'Cos',
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'PRelu', 'Min', 'Max', 'Sum', 'Mean', 'Where', 'Clip', 'Cast', 'Identity', 'Dropout',
].map((n) => `onnx.${n}`));

/** Shape ops that keep the flat index mod K when the last dim stays K (row-major). */
const RESHAPES = new Set(['onnx.Squeeze', 'onnx.Unsqueeze', 'onnx.Flatten']);

/** How a constant operand is permuted, for the log. */
type EditKind = 'rows' | 'columns' | 'norm' | 'table' | 'constant';

/** A constant operand permuted along `axis` (in a private copy). */
interface Edit { node: Node; input: number; axis: number; kind: EditKind }

/** A linear layer reading the space: the rows of its weight along `kAxis` are group-quantized. */
interface Consumer { node: Node; x: Value; kAxis: number }

/**
 * Where the space meets what cannot be permuted: `value` is made outside it ('made': a graph
 * input, an op mixing channels), or read outside it ('read': `reader`'s operand `input`;
 * 'subgraph': a reader inside a subgraph; 'output': a graph output).
 */
type Cut = { value: Value; why: string } & ({ at: 'made' | 'output' } | { at: 'read' | 'subgraph'; reader: Node; input: number });

/** Values whose last axis must be permuted together, and everything that absorbs the permutation. */
interface Space { k: number; values: Set<Value>; consumers: Consumer[]; edits: Edit[]; cuts: Cut[] }

/**
 * What a node does with the space when reached at one of its operands / results: operands and
 * results in the space, constants absorbing the permutation, a consumer's K axis, and results
 * that are the same for every channel (`flat`: a reduction over the channels, keepdims).
 */
interface Role { key: string; ins: number[]; outs: number[]; edits: Omit<Edit, 'node'>[]; consumer?: number; flat?: number[] }

type At = { in: number } | { out: number };

/** What the role rules know: the graph, the channel count, the values in the space, and values the same for every channel. */
interface Ctx { g: Graph; k: number; known: (v: Value) => boolean; flat: (v: Value) => boolean }

const lastDim = (v: Value): number | string | undefined => v.type.shape?.[v.type.shape.length - 1];
const rankOf = (v: Value): number | undefined => v.type.shape?.length;

/** Whether axis `a` of a tensor of `rank` (undefined: unranked) is the last one; undefined when that cannot be told. */
function isLast(a: number, rank: number | undefined): boolean | undefined {
  if (a === -1) return true;
  if (a < 0) return false;
  return rank === undefined ? undefined : a === rank - 1;
}

/**
 * The last dim of `v`: from its type, else (unranked exports) from the weight of the linear
 * layer making it, or the operands of the elementwise op making it (a few steps back).
 */
function lastOf(g: Graph, v: Value, depth = 4): number | string | undefined {
  const d = lastDim(v);
  const p = v.producer;
  if (typeof d === 'number' || !p || depth === 0) return d;
  const w = p.inputs[1] ? constantOf(g, p.inputs[1]) : undefined;
  if (LINEARS.has(p.op) && w?.rank === 2) return w.shape[p.op === 'onnx.Gemm' && getAttr<number>(p, 'transB') !== 0 ? 0 : 1];
  if (!ELEMENTWISE.has(p.op)) return d;
  const dims = p.inputs.filter((x): x is Value => x !== null).map((x) => (rankOf(x) === 0 ? 1 : lastOf(g, x, depth - 1)));
  return dims.every((x) => typeof x === 'number') ? Math.max(...(dims as number[])) : d;
}

/** Constant integer vector operand `i` of `n`, if any. */
function ints(g: Graph, n: Node, i: number): number[] | undefined {
  const v = n.inputs[i];
  const t = v ? constantOf(g, v) : undefined;
  return t ? t.toNumbers() : undefined;
}

const empty = (): Role => ({ key: '', ins: [], outs: [], edits: [] });

/**
 * Operand `i` of `n` against a channel-space result: in the space (a value, or a constant
 * permuted along its last axis), the same for every channel (rank 0 or last dim 1, so it
 * broadcasts), or neither (the reason).
 */
function operand(c: Ctx, n: Node, i: number, role: Role, kind: EditKind = 'constant'): string | undefined {
  const v = n.inputs[i];
  if (!v) return undefined;
  if (c.known(v)) { role.ins.push(i); return undefined; }
  const d = lastOf(c.g, v);
  if (rankOf(v) === 0 || d === 1 || c.flat(v)) return undefined;
  if (d !== c.k) return `operand ${i} of ${n.describe()} has last dim ${d ?? '?'}, neither ${c.k} nor 1`;
  if (constantOf(c.g, v)) role.edits.push({ input: i, axis: rankOf(v)! - 1, kind });
  else role.ins.push(i);
  return undefined;
}

/** The role of linear `n` reached at `at`: a consumer (input 0; weight rows) or a producer (result; weight columns and bias). */
function linearRole(c: Ctx, n: Node, at: At): Role | string {
  const w = n.inputs[1];
  const wt = w ? constantOf(c.g, w) : undefined;
  if (!wt || wt.rank !== 2) return `${n.describe()} has no constant 2-D weight`;
  const kAxis = n.op === 'onnx.Gemm' && getAttr<number>(n, 'transB') !== 0 ? 1 : 0;
  if ('in' in at && at.in === 0) {
    if (n.op === 'onnx.Gemm' && getAttr<number>(n, 'transA') !== 0) return `${n.describe()} transposes A`;
    if (wt.shape[kAxis] !== c.k) return `${n.describe()} has a weight of shape [${wt.shape.join(',')}] for ${c.k} channels`;
    return { key: 'consumer', ins: [0], outs: [], edits: [{ input: 1, axis: kAxis, kind: 'rows' }], consumer: kAxis };
  }
  if (('in' in at && at.in !== 2) || ('out' in at && at.out !== 0)) return `${n.describe()} reads it as a weight`;
  if (wt.shape[1 - kAxis] !== c.k) return `${n.describe()} has a weight of shape [${wt.shape.join(',')}] for ${c.k} output channels`;
  const role: Role = { key: 'producer', ins: [], outs: [0], edits: [{ input: 1, axis: 1 - kAxis, kind: 'columns' }] };
  return operand(c, n, 2, role) ?? role;
}

/**
 * What node `n` does with a K-channel space reached at `at`: which operands and results are in
 * it and which constants absorb the permutation — or why the channels cannot pass.
 */
function roleOf(c: Ctx, n: Node, at: At): Role | string {
  if (Object.values(n.attrs).some((a) => a instanceof Graph)) return `${n.describe()} has subgraphs`;
  if (LINEARS.has(n.op)) return linearRole(c, n, at);
  const first = n.inputs[0];
  const rank = first ? rankOf(first) : undefined;
  const slot = 'in' in at ? at.in : at.out;
  /**
   * Operand 0 (or a constant there, permuted as `kind`) and result 0 in the space; `same`: the
   * op keeps the last dim, so an operand of unknown shape is in the space too.
   */
  const through = (kind: EditKind = 'constant', same = true): Role | string => {
    if (slot !== 0 || !first) return `${n.describe()} takes it as a parameter`;
    if (same && !constantOf(c.g, first) && typeof lastDim(first) !== 'number') return { ...empty(), ins: [0], outs: [0] };
    const role: Role = { ...empty(), outs: [0] };
    return operand(c, n, 0, role, kind) ?? role;
  };
  if (ELEMENTWISE.has(n.op)) {
    const role = empty();
    for (let i = 0; i < n.inputs.length; i++) {
      const why = operand(c, n, i, role);
      if (why) return why;
    }
    // a result's last dim is the broadcast of the operands': K (unless the type says otherwise)
    n.outputs.forEach((o, j) => { if (typeof lastDim(o) !== 'number' || lastDim(o) === c.k || c.known(o)) role.outs.push(j); });
    return role;
  }
  switch (n.op) {
    case 'onnx.LayerNormalization':
    case 'onnx.RMSNormalization': {
      if (!isLast(getAttr<number>(n, 'axis'), rank)) return `${n.describe()} normalizes more than the last axis`;
      if ('out' in at && at.out !== 0) return `${n.describe()}: result ${at.out} is a per-row statistic`;
      const role: Role = { ...empty(), ins: [0], outs: [0] };
      for (const i of [1, 2]) {
        const why = operand(c, n, i, role, 'norm');
        if (why) return why;
      }
      return role;
    }
    case 'onnx.Softmax':
    case 'onnx.LogSoftmax':
      return through();
    case 'onnx.Expand':
      return through('constant', false);
    case 'onnx.Shape':
    case 'onnx.Size':
      // they read only the shape
      return { ...empty(), ins: [0] };
    case 'onnx.Concat': {
      if (isLast(getAttr<number>(n, 'axis'), rankOf(n.outputs[0]!)) !== false) return `${n.describe()} may join along the channels`;
      const role: Role = { ...empty(), outs: [0] };
      for (const [i, v] of n.inputs.entries()) {
        if (v && constantOf(c.g, v)) role.edits.push({ input: i, axis: rankOf(v)! - 1, kind: 'constant' });
        else if (v) role.ins.push(i);
      }
      return role;
    }
    case 'onnx.Split':
      if (isLast(getAttr<number>(n, 'axis'), rank) !== false) return `${n.describe()} may split the channels`;
      return slot === 0 || 'out' in at ? { ...empty(), ins: [0], outs: n.outputs.map((_, j) => j) } : `${n.describe()} takes it as split sizes`;
    case 'onnx.Slice': {
      const axes = n.inputs[3] ? ints(c.g, n, 3) : ints(c.g, n, 1)?.map((_, i) => i);
      if (!axes) return `${n.describe()} slices axes Lutra cannot read`;
      return axes.every((a) => isLast(a, rank) === false) ? through() : `${n.describe()} may slice the channels`;
    }
    case 'onnx.Transpose': {
      const perm = n.attrs.perm as number[] | undefined;
      return perm && perm[perm.length - 1] === perm.length - 1 ? through() : `${n.describe()} moves the channel axis`;
    }
    default:
      break;
  }
  if (n.op.startsWith('onnx.Reduce')) {
    if (slot !== 0) return `${n.describe()} takes it as its axes`;
    const axes = n.inputs[1] ? ints(c.g, n, 1) : [];
    if (!axes) return `${n.describe()} reduces axes Lutra cannot read`;
    const all = axes.length === 0 && getAttr<number>(n, 'noop_with_empty_axes') === 0;
    const over = all || axes.some((a) => isLast(a, rank) === true);
    if (!over && axes.some((a) => isLast(a, rank) === undefined)) return `${n.describe()} may reduce over the channels`;
    // a sum / mean / max over the channels is the same for every order of them; over other axes the channels stay last
    const flat = getAttr<number>(n, 'keepdims') !== 0 ? [0] : [];
    if (over) return 'out' in at ? `${n.describe()} reduces over the channels` : { ...empty(), ins: [0], flat };
    return through();
  }
  const reshape = RESHAPES.has(n.op) && first && lastDim(first) === c.k && lastDim(n.outputs[0]!) === c.k;
  if (channelPreserving(n) || reshape) return through(n.op === 'onnx.Gather' ? 'table' : 'constant');
  return `${n.describe()} moves or mixes the channels`;
}

/**
 * The channel space of linear input `seed` (K channels): grown over every op the channels pass
 * through unchanged. A node that cannot take the space from one side is tried again once the
 * space has grown (an operand of unknown shape may have joined it by then); what still fails
 * becomes a cut.
 */
function growSpace(g: Graph, seed: Value, k: number, uses: Map<Value, Node[]>, top: Set<Node>, outs: Set<Value>): Space {
  const space: Space = { k, values: new Set([seed]), consumers: [], edits: [], cuts: [] };
  const flat = new Set<Value>();
  const c: Ctx = { g, k, known: (v) => space.values.has(v), flat: (v) => flat.has(v) };
  const queue = [seed];
  /** `v` is the same for every channel, and so is what elementwise ops make of it and of other such values. */
  const markFlat = (v: Value): void => {
    if (flat.has(v)) return;
    flat.add(v);
    for (const u of uses.get(v) ?? []) {
      const uniform = (x: Value | null) => !x || flat.has(x) || rankOf(x) === 0 || lastDim(x) === 1;
      if (top.has(u) && ELEMENTWISE.has(u.op) && u.inputs.every(uniform)) u.outputs.forEach(markFlat);
    }
  };
  const seen = new Map<Node, Set<string>>();
  let failed: { n: Node; at: At; v: Value; why: string }[] = [];
  const add = (v: Value): void => {
    if (space.values.has(v)) return;
    space.values.add(v);
    queue.push(v);
  };
  const visit = (n: Node, at: At, v: Value): boolean => {
    const role = roleOf(c, n, at);
    if (typeof role === 'string') { failed.push({ n, at, v, why: role }); return false; }
    const roles = seen.get(n) ?? new Set();
    if (roles.has(role.key)) return true;
    seen.set(n, roles.add(role.key));
    for (const i of role.ins) add(n.inputs[i]!);
    for (const j of role.outs) add(n.outputs[j]!);
    for (const j of role.flat ?? []) markFlat(n.outputs[j]!);
    for (const e of role.edits) space.edits.push({ node: n, ...e });
    if (role.consumer !== undefined) space.consumers.push({ node: n, x: n.inputs[0]!, kAxis: role.consumer });
    return true;
  };
  for (;;) {
    while (queue.length > 0) {
      const v = queue.pop()!;
      if (v.producer) visit(v.producer, { out: v.producer.outputs.indexOf(v) }, v);
      else space.cuts.push({ value: v, why: 'it is a graph input', at: 'made' });
      for (const u of uses.get(v) ?? []) {
        if (top.has(u)) u.inputs.forEach((x, i) => { if (x === v) visit(u, { in: i }, v); });
        else space.cuts.push({ value: v, why: `${u.describe()} reads it inside a subgraph`, at: 'subgraph', reader: u, input: -1 });
      }
      if (outs.has(v)) space.cuts.push({ value: v, why: 'it is a graph output', at: 'output' });
    }
    const retry = failed;
    failed = [];
    let passed = false;
    for (const f of retry) passed = visit(f.n, f.at, f.v) || passed;
    if (!passed) break;
  }
  for (const f of failed) {
    space.cuts.push('in' in f.at ? { value: f.v, why: f.why, at: 'read', reader: f.n, input: f.at.in } : { value: f.v, why: f.why, at: 'made' });
  }
  space.consumers.sort((a, b) => g.nodes.indexOf(a.node) - g.nodes.indexOf(b.node));
  return space;
}

/** Every channel space of `g` that a linear layer with a constant weight reads, in graph order. */
function findSpaces(g: Graph): Space[] {
  const uses = g.useMap();
  const top = new Set(g.nodes);
  const outs = new Set(g.outputs);
  const spaces: Space[] = [];
  const taken = new Set<Value>();
  for (const n of g.nodes) {
    const x = n.inputs[0];
    const w = n.inputs[1] ? constantOf(g, n.inputs[1]) : undefined;
    if (!LINEARS.has(n.op) || !x || x.isConst || taken.has(x) || !w || w.rank !== 2) continue;
    const k = w.shape[n.op === 'onnx.Gemm' && getAttr<number>(n, 'transB') !== 0 ? 1 : 0]!;
    // K from the weight: types inside some exports are unranked (silero-vad); a known last dim must agree
    if (typeof lastDim(x) === 'number' && lastDim(x) !== k) continue;
    const s = growSpace(g, x, k, uses, top, outs);
    for (const v of s.values) taken.add(v);
    if (s.consumers.length > 0) spaces.push(s);
  }
  return spaces;
}

// ---- choosing -----------------------------------------------------------------------------------


/** Channels sorted by descending key (ties keep their order): new channel i is old channel order[i]. */
export function channelOrder(keys: ArrayLike<number>): Int32Array {
  return Int32Array.from(Array.from(keys, (_, j) => j).sort((a, b) => keys[b]! - keys[a]! || a - b));
}

/**
 * Σ_j r_j ‖Q(W[π, :])_π⁻¹(j) − W_j‖² for a weight W [K, N] (kAxis 0) or [N, K] (kAxis 1)
 * group-quantized along K with `scheme` (its axis is ignored) after permuting its rows by `perm`
 * (identity when omitted); `rowWeight` r defaults to 1 (the pass gives mean|X_j|²).
 */
export function groupError(w: Tensor, kAxis: number, scheme: QuantScheme, perm?: ArrayLike<number>, rowWeight?: ArrayLike<number>): number {
  const k = w.shape[kAxis]!;
  const W = weightKN(w, kAxis);
  const n = W.length / k;
  const p = new Float32Array(W.length);
  for (let i = 0; i < k; i++) p.set(W.subarray((perm ? perm[i]! : i) * n, ((perm ? perm[i]! : i) + 1) * n), i * n);
  const t = new Tensor('f32', [k, n], p);
  const q = fakeQuant(t, paramsForTensor(t, { ...scheme, axis: 0 })).data as Float32Array;
  // per original channel, summed in channel order: an unchanged grouping gives the same number bit for bit
  const err = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    let e = 0;
    for (let j = 0; j < n; j++) e += (q[i * n + j]! - p[i * n + j]!) ** 2;
    const old = perm ? perm[i]! : i;
    err[old] = e * (rowWeight ? rowWeight[old]! : 1);
  }
  return err.reduce((a, b) => a + b, 0);
}

/** max_n |W_jn| per input channel j of a consumer weight. */
function rowMax(w: Tensor, kAxis: number): Float64Array {
  const k = w.shape[kAxis]!;
  const W = weightKN(w, kAxis);
  const n = W.length / k;
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) out[i] = Math.max(out[i]!, Math.abs(W[i * n + j]!));
  return out;
}

// ---- rewriting ----------------------------------------------------------------------------------

/** `t` with its `axis` permuted: out[…, i, …] = t[…, perm[i], …]. */
function permuteAxis(t: Tensor, axis: number, perm: Int32Array): Tensor {
  const n = t.shape[axis]!;
  const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = t.size / (n * inner);
  const src = t.data;
  const out = src.slice();
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      const from = (o * n + perm[i]!) * inner;
      out.set(src.subarray(from, from + inner) as never, (o * n + i) * inner);
    }
  }
  return new Tensor(t.dtype, [...t.shape], out);
}

/** Permute a space: constants in private copies, a Gather at every cut. Returns the values the Gathers read. */
function permuteSpace(g: Graph, space: Space, perm: Int32Array): string[] {
  const replaced: Value[] = [];
  const copies = new Map<Value, Map<number, Value>>();
  for (const e of space.edits) {
    const v = e.node.inputs[e.input]!;
    const byAxis = copies.get(v) ?? new Map<number, Value>();
    copies.set(v, byAxis);
    let nv = byAxis.get(e.axis);
    if (!nv) {
      nv = g.addConstant(g.freshName(`${v.name}_permuted`), permuteAxis(constantOf(g, v)!, e.axis, perm));
      byAxis.set(e.axis, nv);
    }
    replaced.push(v);
    e.node.inputs[e.input] = nv;
  }
  const inverse = new Int32Array(perm.length);
  perm.forEach((p, i) => { inverse[p] = i; });
  const b = new Builder(g);
  /** onnx.Gather(v, order) along the last axis, right after v is made. */
  const gather = (v: Value, order: Int32Array, index: string, out: string): Value => {
    b.insertionPoint = v.producer ? g.nodes[g.nodes.indexOf(v.producer) + 1] : g.nodes[0];
    const idx = b.constant(index, Tensor.from('i64', [order.length], order));
    return b.op('onnx.Gather', [v, idx], { axis: -1 }, { out });
  };
  const byValue = new Map<Value, Cut[]>();
  for (const c of space.cuts) byValue.set(c.value, [...(byValue.get(c.value) ?? []), c]);
  const uses = g.useMap();
  const at = [...byValue.keys()].map((v) => `%${v.name}`);
  for (const [v, cuts] of byValue) {
    if (cuts.some((c) => c.at === 'made')) {
      // made outside: the readers in the space take a permuted copy; readers outside and a graph output keep v
      const outside = (n: Node, i: number) => cuts.some((c) => (c.at === 'read' && c.reader === n && c.input === i) || (c.at === 'subgraph' && c.reader === n));
      const pv = gather(v, perm, `${v.name}_order`, `${v.name}_permuted`);
      for (const u of uses.get(v) ?? []) u.inputs.forEach((x, i) => { if (x === v && !outside(u, i)) u.inputs[i] = pv; });
      continue;
    }
    // made in the space, read outside: those readers (and a graph output, under v's name) get the order back
    const name = v.name;
    const output = cuts.some((c) => c.at === 'output');
    if (output) v.name = g.freshName(`${name}_permuted`);
    const uv = gather(v, inverse, `${name}_inverse_order`, output ? name : `${name}_unpermuted`);
    for (const c of cuts) {
      if (c.at === 'read') c.reader.inputs[c.input] = uv;
      else if (c.at === 'subgraph') c.reader.inputs.forEach((x, i) => { if (x === v) c.reader.inputs[i] = uv; });
    }
    if (output) g.outputs.forEach((o, i) => { if (o === v) g.outputs[i] = uv; });
  }
  eraseDead(g, replaced);
  return at;
}

// ---- the pass -----------------------------------------------------------------------------------

const FORMATS: Readonly<Record<number, QuantScheme['format']>> = { 4: 'int4', 8: 'int8' };
const fmt = (e: number): string => e.toExponential(3);
const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The log's account of what absorbed a space's permutation. */
function absorbedBy(space: Space, gathers: string[]): string {
  const count = (k: EditKind) => new Set(space.edits.filter((e) => e.kind === k).map((e) => e.node)).size;
  const parts = [
    `rows of ${plural(space.consumers.length, 'consumer')}`,
    count('columns') ? `output columns of ${plural(count('columns'), 'linear layer')}` : '',
    count('norm') ? `γ/β of ${plural(count('norm'), 'norm')}` : '',
    count('table') ? `${plural(count('table'), 'embedding table')}` : '',
    count('constant') ? `${plural(count('constant'), 'per-channel constant')}` : '',
    gathers.length ? `${plural(gathers.length, 'explicit onnx.Gather')} (at ${gathers.join(', ')})` : '',
  ];
  return parts.filter(Boolean).join(', ');
}

export const channelPermute = definePass({
  name: 'channel-permute',
  summary: 'permute channels (producer outputs and consumer weight rows alike) so that large weight rows share int4 groups; exact in float',
  description: `Before: %h = onnx.Add(onnx.MatMul(%x, %w1), %b1); %r = onnx.Relu(%h); %y = onnx.MatMul(%r, %w2).
After: %h = onnx.Add(onnx.MatMul(%x, %w1_permuted), %b1_permuted); %r = onnx.Relu(%h); %y = onnx.MatMul(%r, %w2_permuted),
with the columns of w1 and b1 and the rows of w2 permuted by π sorting the rows of w2 by max |w| (descending), kept when
the group-quantized weight error goes down.`,
  options: {
    group: { type: 'number', default: 32, doc: 'group size along K the weights will be quantized with (match the recipe\'s)' },
    bits: { type: 'number', default: 4, doc: 'weight bits the error is measured with: 4 (int4) or 8 (int8)' },
    symmetric: { type: 'boolean', default: false, doc: 'measure with symmetric groups (w4a8) instead of asymmetric (w4a16)' },
    by: { type: 'string', default: 'weight', doc: 'sort key: weight (max_n |W_jn|) or activation (mean|X_j| · max_n |W_jn|, needs calibration data)' },
    calib: { type: 'string', default: '', doc: 'calibration data directory (default: the run\'s --calib); weights the error by mean|X_j|²' },
    samples: { type: 'number', default: 0, doc: 'use at most this many calibration samples (0 = the run\'s, or all)' },
    explicit: { type: 'boolean', default: false, doc: 'permute spaces that meet a channel-mixing op too, with an onnx.Gather there (else skip them)' },
  },
  run(model, o, ctx) {
    const log = (line: string) => ctx.log(`channel-permute: ${line}`);
    if (!Number.isInteger(o.group) || o.group < 1) fail('usage', `channel-permute: group must be a positive integer, got ${o.group}`);
    const format = FORMATS[o.bits];
    if (!format) fail('usage', `channel-permute: bits must be 4 or 8, got ${o.bits}`);
    if (o.by !== 'weight' && o.by !== 'activation') fail('usage', `channel-permute: by must be 'weight' or 'activation', got '${o.by}'`);
    const calib = o.calib || ctx.calib;
    if (o.by === 'activation' && !calib) fail('usage', 'channel-permute: by=activation measures activations: give calib=<dir>, or run it inside a recipe with --calib');
    const scheme: QuantScheme = { format, symmetric: o.symmetric, granularity: 'group', group: o.group, axis: 0 };
    const g = model.graph;
    const all = findSpaces(g);
    const name = (s: Space) => `%${s.consumers[0]!.x.name}${s.values.size > 1 ? ` (+${s.values.size - 1} values)` : ''}`;
    const candidates: Space[] = [];
    let skipped = 0;
    for (const s of all) {
      const groups = `K = ${s.k}`;
      if (s.k <= o.group) { log(`${name(s)}: ${groups} fits in one group of ${o.group}; left as is`); skipped++; continue; }
      for (const c of s.cuts) ctx.trace?.(`${name(s)}: cut at %${c.value.name}: ${c.why}`);
      if (s.cuts.length > 0 && !o.explicit) {
        const whys = [...new Set(s.cuts.map((c) => `%${c.value.name}: ${c.why}`))];
        log(`${name(s)}: skipped, the channels cannot pass ${whys.slice(0, 2).join('; ')}${whys.length > 2 ? ` (+${whys.length - 2} more)` : ''} (explicit=true inserts onnx.Gather there)`);
        skipped++;
        continue;
      }
      candidates.push(s);
    }
    const xs = [...new Set(candidates.flatMap((s) => s.consumers.map((c) => c.x)))];
    const samples = o.samples > 0 ? o.samples : ctx.samples;
    const stats = calib && xs.length > 0 ? siteStats(g, xs, calib, samples) : new Map();
    let permuted = 0;
    let unchanged = 0;
    let [sumBefore, sumAfter] = [0, 0];
    for (const s of candidates) {
      const label = name(s);
      const weights = s.consumers.map((c) => constantOf(g, c.node.inputs[1]!)!);
      const means = s.consumers.map((c) => stats.get(c.x)?.absMean as Float64Array | undefined);
      const weighted = means.every((m) => m !== undefined);
      if (o.by === 'activation' && !weighted) { log(`${label}: never computed on the calibration data; skipped`); skipped++; continue; }
      const keys = new Float64Array(s.k);
      s.consumers.forEach((c, i) => {
        const rm = rowMax(weights[i]!, c.kAxis);
        for (let j = 0; j < s.k; j++) keys[j] = Math.max(keys[j]!, rm[j]! * (o.by === 'activation' ? means[i]![j]! : 1));
      });
      const perm = channelOrder(keys);
      const m2 = means.map((m) => (weighted ? m!.map((v) => v * v) : new Float64Array(s.k).fill(1)));
      let energy = 0;
      s.consumers.forEach((c, i) => {
        const W = weightKN(weights[i]!, c.kAxis);
        const n = W.length / s.k;
        for (let j = 0; j < W.length; j++) energy += W[j]! ** 2 * m2[i]![Math.floor(j / n)]!;
      });
      const error = (p?: Int32Array) => s.consumers.reduce((a, c, i) => a + groupError(weights[i]!, c.kAxis, scheme, p, m2[i]), 0) / (energy || 1);
      const before = error();
      const after = error(perm);
      const groups = `K = ${s.k}, ${Math.ceil(s.k / o.group)} groups of ${o.group}`;
      const what = `${weighted ? 'mean|X|²-weighted ' : ''}relative weight error`;
      if (!(after < before)) {
        log(`${label} (${groups}): left as is, sorting does not lower the ${what} (${fmt(before)} → ${fmt(after)})`);
        unchanged++;
        continue;
      }
      const gathers = permuteSpace(g, s, perm);
      log(`${label} (${groups}): ${what} ${fmt(before)} → ${fmt(after)}; permuted ${absorbedBy(s, gathers)}`);
      permuted++;
      sumBefore += before;
      sumAfter += after;
    }
    log(`${permuted} of ${all.length} channel spaces permuted, ${unchanged} left as is, ${skipped} skipped`
      + (permuted ? `; summed relative weight error ${fmt(sumBefore)} → ${fmt(sumAfter)}` : ''));
  },
});

registerPass(channelPermute);
