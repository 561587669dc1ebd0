/**
 * @fileoverview Typed graph patterns. A pattern describes a value by how it is produced:
 *
 *   P.op('onnx.Relu', [P.op('onnx.Conv', [P.any('x'), P.any('w')]).as('conv')])
 *
 * matches a Relu of a Conv and captures `x`, `w` (Values) and `conv` (the Conv Node); the
 * capture names and kinds are part of the pattern's type, so a rule's callback is typed. A name
 * captured twice must bind the same value or node both times (`x` in `Mul(x, Erf(Div(x, c)))`).
 *
 * Patterns are plain immutable data (no classes), so rules built by a plugin compiled against
 * another copy of Lutra still match. Matching never changes the IR.
 */
import type { Node, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';

/** What a successful match binds: capture name → Value (`P.any`, `P.const`) or Node (`.as`). */
export type Bindings = Record<string, Value | Node>;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The captures of a list of patterns, merged. */
export type CapturesOf<Ps extends readonly Pattern<object>[]> = Simplify<UnionToIntersection<
  { [K in keyof Ps]: Ps[K] extends Pattern<infer C> ? C : never }[number]
> & {}>;

/** A predicate on a constant's tensor; its function name says what it checks in failure reasons. */
export type ConstPred = (t: Tensor) => boolean;

/** A node predicate: true, or the reason it does not hold. */
export type NodePred = (node: Node) => true | string;

interface PatternBase<C extends object> {
  /** Phantom: the captures this pattern binds. */
  readonly __captures?: C;
}

export interface AnyPattern<C extends object> extends PatternBase<C> {
  readonly kind: 'any';
  readonly name: string | undefined;
}

export interface ConstPattern<C extends object> extends PatternBase<C> {
  readonly kind: 'const';
  readonly name: string | undefined;
  readonly pred: ConstPred | undefined;
}

export interface OpPattern<C extends object> extends PatternBase<C> {
  readonly kind: 'op';
  /** Accepted op names. */
  readonly ops: readonly string[];
  readonly inputs: readonly Pattern<object>[];
  /** Capture name of the matched node (`.as`). */
  readonly name: string | undefined;
  /** Also try the two operands swapped (binary ops only). */
  readonly isCommutative: boolean;
  /** Allow operands beyond the listed ones (unchecked). */
  readonly allowRest: boolean;
  readonly preds: readonly { readonly what: string; readonly pred: NodePred }[];
  /** Capture the node under `name`. */
  as<N extends string>(name: N): OpPattern<Simplify<C & Record<N, Node>>>;
  /** Match the two operands in either order. */
  commutative(): OpPattern<C>;
  /** Accept (and ignore) operands after the listed ones, e.g. Dropout's optional ratio. */
  rest(): OpPattern<C>;
  /** Require `pred(node)`; `what` names the condition in failure reasons. */
  where(what: string, pred: (node: Node) => boolean): OpPattern<C>;
}

export interface OneOfPattern<C extends object> extends PatternBase<C> {
  readonly kind: 'oneOf';
  readonly alternatives: readonly Pattern<object>[];
}

export type Pattern<C extends object = object> = AnyPattern<C> | ConstPattern<C> | OpPattern<C> | OneOfPattern<C>;

function opPattern<C extends object>(fields: Omit<OpPattern<C>, 'as' | 'commutative' | 'rest' | 'where' | '__captures'>): OpPattern<C> {
  return {
    ...fields,
    as: (name) => opPattern({ ...fields, name }),
    commutative: () => {
      if (fields.inputs.length !== 2) throw new Error(`commutative() needs two operands, ${fields.ops.join('|')} has ${fields.inputs.length}`);
      return opPattern({ ...fields, isCommutative: true });
    },
    rest: () => opPattern({ ...fields, allowRest: true }),
    where: (what, pred) => opPattern({ ...fields, preds: [...fields.preds, { what, pred: (n) => pred(n) || `not ${what}` }] }),
  };
}

/** Capture names bound by a pattern (for checking oneOf alternatives). */
export function captureNames(p: Pattern): Set<string> {
  const s = new Set<string>();
  const visit = (q: Pattern): void => {
    if (q.kind === 'oneOf') { visit(q.alternatives[0]!); return; }
    if (q.name !== undefined) s.add(q.name);
    if (q.kind === 'op') q.inputs.forEach(visit);
  };
  visit(p);
  return s;
}

/** Pattern constructors. */
export const P = {
  /** Any value; captured as a Value when named. */
  any<N extends string = never>(name?: N): AnyPattern<Record<N, Value>> {
    return { kind: 'any', name };
  },

  /** A constant operand (a weight-store value), optionally satisfying `pred` on its tensor. */
  const: ((nameOrPred?: string | ConstPred, pred?: ConstPred) => (typeof nameOrPred === 'function'
    ? { kind: 'const', name: undefined, pred: nameOrPred }
    : { kind: 'const', name: nameOrPred, pred })) as {
    (pred?: ConstPred): ConstPattern<{}>;
    <N extends string>(name: N, pred?: ConstPred): ConstPattern<Record<N, Value>>;
  },

  /** A value produced by one of `ops` whose operands match `inputs` (exactly that many, unless `.rest()`). */
  op<const Ps extends readonly Pattern<object>[]>(ops: string | readonly string[], inputs: Ps): OpPattern<CapturesOf<Ps>> {
    return opPattern({ kind: 'op', ops: typeof ops === 'string' ? [ops] : ops, inputs, name: undefined, isCommutative: false, allowRest: false, preds: [] });
  },

  /** The first alternative that matches. Every alternative must capture the same names. */
  oneOf<const Ps extends readonly Pattern<object>[]>(...alternatives: Ps): OneOfPattern<CapturesOf<Ps>> {
    const names = alternatives.map((a) => [...captureNames(a)].sort().join(','));
    if (new Set(names).size > 1) throw new Error(`oneOf alternatives capture different names: ${names.map((n) => `{${n}}`).join(' vs ')}`);
    return { kind: 'oneOf', alternatives };
  },
};

/** A `ConstPred` true when every element equals `value` within relative tolerance `rtol`. */
export function splat(value: number, rtol = 1e-6): ConstPred {
  const f = (t: Tensor): boolean => t.size > 0 && t.toNumbers().every((x) => Math.abs(x - value) <= rtol * Math.max(1, Math.abs(value)));
  Object.defineProperty(f, 'name', { value: `all ${value}` });
  return f;
}

/** The op names a pattern's root can have (undefined: any producer). */
export function rootOps(p: Pattern): readonly string[] | undefined {
  if (p.kind === 'op') return p.ops;
  if (p.kind === 'oneOf') {
    const all = p.alternatives.map(rootOps);
    return all.some((a) => a === undefined) ? undefined : [...new Set(all.flatMap((a) => a!))];
  }
  return undefined;
}

/** What matching needs to know about the graph. */
export interface MatchEnv {
  /** The tensor of a constant value, or undefined. */
  constant(v: Value): Tensor | undefined;
}

/** A successful match: the bindings and every node the pattern matched (root first). */
export interface Match {
  readonly bindings: Bindings;
  readonly nodes: readonly Node[];
}

/** The result of matching: a match, or the reason of the deepest failure. */
export type MatchResult = { readonly ok: true; readonly match: Match } | { readonly ok: false; readonly reason: string };

interface State { bindings: Bindings; nodes: Node[] }

const valueName = (v: Value): string => `%${v.name}`;

/**
 * Match `p` against value `v`. Tries alternatives (oneOf, commutative operand orders) with
 * backtracking and returns the first full match; on failure, the reason from the deepest point
 * the matcher reached.
 */
export function match(p: Pattern, v: Value, env: MatchEnv): MatchResult {
  let best = { depth: -1, reason: 'no match' };
  const failAt = (depth: number, reason: string): void => {
    if (depth > best.depth) best = { depth, reason };
  };
  const bind = (s: State, name: string | undefined, x: Value | Node, depth: number): State | undefined => {
    if (name === undefined) return s;
    const prev = s.bindings[name];
    if (prev !== undefined) {
      if (prev === x) return s;
      failAt(depth, `'${name}' is bound to two different ${'op' in x ? 'nodes' : 'values'}`);
      return undefined;
    }
    return { bindings: { ...s.bindings, [name]: x }, nodes: s.nodes };
  };
  // Every state that matches `q` against `val`, given state `s`.
  const go = (q: Pattern, val: Value, s: State, depth: number, where: string): State[] => {
    switch (q.kind) {
      case 'any': {
        const r = bind(s, q.name, val, depth);
        return r ? [r] : [];
      }
      case 'const': {
        const t = env.constant(val);
        if (!t) { failAt(depth, `${where}${valueName(val)} is not a constant`); return []; }
        if (q.pred && !q.pred(t)) { failAt(depth, `${where}constant ${valueName(val)} is not ${q.pred.name || 'accepted'}`); return []; }
        const r = bind(s, q.name, val, depth);
        return r ? [r] : [];
      }
      case 'oneOf':
        return q.alternatives.flatMap((a) => go(a, val, s, depth, where));
      case 'op': {
        const n = val.producer;
        if (!n || !q.ops.includes(n.op)) {
          failAt(depth, `${where}expected ${q.ops.join(' or ')}, found ${n ? n.op : val.isConst ? 'a constant' : 'a graph input'} ${valueName(val)}`);
          return [];
        }
        let arity = n.inputs.length;
        while (arity > 0 && n.inputs[arity - 1] === null) arity--;
        if (q.allowRest ? arity < q.inputs.length : arity !== q.inputs.length) {
          failAt(depth, `${where}${n.describe()} has ${arity} operands, the pattern ${q.inputs.length}${q.allowRest ? ' or more' : ''}`);
          return [];
        }
        for (const { pred } of q.preds) {
          const ok = pred(n);
          if (ok !== true) { failAt(depth, `${where}${n.describe()}: ${ok}`); return []; }
        }
        const start = bind(s, q.name, n, depth);
        if (!start) return [];
        const entered: State = s.nodes.includes(n) ? start : { bindings: start.bindings, nodes: [...start.nodes, n] };
        const orders = q.isCommutative ? [[0, 1], [1, 0]] : [q.inputs.map((_, i) => i)];
        const out: State[] = [];
        for (const order of orders) {
          let states = [entered];
          order.forEach((operand, k) => {
            const sub = q.inputs[k]!;
            const input = n.inputs[operand];
            states = states.flatMap((st) => {
              if (!input) { failAt(depth + 1, `operand ${operand} of ${n.describe()} is omitted`); return []; }
              return go(sub, input, st, depth + 1, `operand ${operand} of ${n.describe()}: `);
            });
          });
          out.push(...states);
          if (out.length > 0) break;
        }
        return out;
      }
    }
  };
  const [first] = go(p, v, { bindings: {}, nodes: [] }, 0, '');
  return first ? { ok: true, match: first } : { ok: false, reason: best.reason };
}
