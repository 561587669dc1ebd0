/**
 * @fileoverview Rewrite rules: a name, a pattern and a function. The function gets the typed
 * captures and a RewriteCtx; it decides first (returning `ctx.fail(reason)` or undefined when
 * the rule does not apply) and only then builds the replacement with `ctx.make`, returning
 * the value(s) that replace the matched root node's results. Rule sets are arrays: compose
 * them by concatenation.
 */
import type { Builder } from '../ir/builder.js';
import type { Attrs, Graph, Node, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import type { Pattern } from './pattern.js';

/** Why a rule did not apply (what `ctx.fail` returns; the trace prints the reason). */
export interface Failure {
  readonly failure: string;
}

/** What a rule's function returns: the replacement of the root node's results, or no match. */
export type RuleResult = Value | readonly Value[] | Failure | undefined;

export interface RewriteCtx {
  readonly graph: Graph;
  /** The node the pattern's root matched. */
  readonly root: Node;
  /** Every node the pattern matched, root first. */
  readonly matched: readonly Node[];
  /** Builds nodes inserted before the root (types inferred). */
  readonly builder: Builder;
  /** Nodes using `v` (or any result of node `v`), in this graph and its subgraphs. */
  users(v: Value | Node): Node[];
  /** `v` is a result of the graph being rewritten. */
  isOutput(v: Value): boolean;
  /** A matched node other than the root whose results are used outside the match (or are graph results). */
  usedOutside(): Node | undefined;
  /** The tensor of a constant value (undefined when `v` is not a constant). */
  constant(v: Value): Tensor | undefined;
  /** A new constant holding `t`; `hint` seeds its (fresh) name. */
  newConstant(t: Tensor, hint: string): Value;
  /** A new single-result node before the root; returns its result. */
  make(op: string, inputs: readonly (Value | null)[], attrs?: Attrs): Value;
  /** No match, with the reason shown by the trace. */
  fail(reason: string): Failure;
}

export interface Rule<C extends object = object> {
  readonly name: string;
  readonly pattern: Pattern<C>;
  readonly apply: (captures: C, ctx: RewriteCtx) => RuleResult;
}

/** A rewrite rule; the captures' names and kinds come from the pattern's type. */
export function rule<C extends object>(name: string, pattern: Pattern<C>, apply: (captures: C, ctx: RewriteCtx) => RuleResult): Rule<C> {
  return { name, pattern, apply };
}

/** A list of rules, tried in order on each node (`any`: each rule has its own capture type). */
export type RuleSet = readonly Rule<any>[];

export const isFailure = (r: RuleResult): r is Failure => typeof r === 'object' && r !== null && 'failure' in r;
