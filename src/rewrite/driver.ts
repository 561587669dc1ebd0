/**
 * @fileoverview The greedy rewrite driver: applies a rule set to every node of a graph (and its
 * subgraphs), in order, until nothing changes or the iteration cap is hit. After each rewrite
 * it removes what became dead; a rule that declines has everything it built removed, so the IR
 * is unchanged. With `trace`, it reports each rule that fired and why each candidate rule (one
 * whose root op matches the node) did not.
 */
import { Builder, constantOf } from '../ir/builder.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import type { Tensor } from '../ir/tensor.js';
import { formatType, sameElemType, shapesCompatible } from '../ir/types.js';
import { eraseDead, graphTree } from './erase.js';
import { match, rootOps } from './pattern.js';
import { isFailure, type RewriteCtx, type Rule, type RuleSet } from './rule.js';

export interface DriverOptions {
  /** Sweeps over the graph before giving up on reaching a fixpoint (default 10). */
  maxIterations?: number;
  /** Receives one line per rule application or failed match. */
  trace?: (line: string) => void;
}

export interface DriverResult {
  /** Rewrites applied. */
  applied: number;
  /** Sweeps made (the last one changed nothing when converged). */
  iterations: number;
  /** False when the iteration cap stopped the driver while rules still applied. */
  converged: boolean;
}

/** Apply `rules` greedily to `graph` and its subgraphs until a fixpoint (or the iteration cap). */
export function applyRules(graph: Graph, rules: RuleSet, opts: DriverOptions = {}): DriverResult {
  const max = opts.maxIterations ?? 10;
  const byOp = new Map<string, Rule[]>();
  const anyRoot: Rule[] = [];
  for (const r of rules) {
    const ops = rootOps(r.pattern);
    if (!ops) anyRoot.push(r);
    else for (const op of ops) byOp.set(op, [...(byOp.get(op) ?? []), r]);
  }
  const candidates = (op: string): Rule[] => {
    const l = byOp.get(op);
    return anyRoot.length === 0 ? l ?? [] : rules.filter((r) => anyRoot.includes(r) || l?.includes(r));
  };
  let applied = 0;
  for (let it = 1; it <= max; it++) {
    let changed = false;
    for (const g of graphTree(graph)) {
      for (const node of [...g.nodes]) {
        for (const r of candidates(node.op)) {
          if (!g.nodes.includes(node)) break;
          if (tryRule(r, node, g, opts.trace)) { changed = true; applied++; break; }
        }
      }
    }
    if (!changed) return { applied, iterations: it, converged: true };
  }
  opts.trace?.(`stopped after ${max} iterations without reaching a fixpoint`);
  return { applied, iterations: max, converged: false };
}

/** `rule-name on onnx.Mul "n": …` */
function where(r: Rule, node: Node): string {
  return `${r.name} on ${node.describe()}`;
}

function tryRule(r: Rule, node: Node, g: Graph, trace: ((line: string) => void) | undefined): boolean {
  const root = node.outputs[0];
  if (!root) return false;
  const constant = (v: Value): Tensor | undefined => constantOf(g, v);
  const m = match(r.pattern, root, { constant });
  if (!m.ok) { trace?.(`${where(r, node)}: no match: ${m.reason}`); return false; }

  const created: Node[] = [];
  const createdConsts: Value[] = [];
  const builder = new Builder(g);
  builder.insertionPoint = node;
  let uses: Map<Value, Node[]> | undefined;
  const usesOf = (v: Value): Node[] => (uses ??= g.useMap()).get(v) ?? [];
  const matched = new Set(m.match.nodes);
  const ctx: RewriteCtx = {
    graph: g,
    root: node,
    matched: m.match.nodes,
    builder,
    users: (v) => ('op' in v ? [...new Set(v.outputs.flatMap(usesOf))] : usesOf(v)),
    isOutput: (v) => g.outputs.includes(v),
    usedOutside: () => m.match.nodes.find((n) => n !== node
      && n.outputs.some((o) => g.outputs.includes(o) || usesOf(o).some((u) => !matched.has(u)))),
    constant,
    newConstant: (t, hint) => {
      const v = g.addConstant(g.freshName(hint), t);
      createdConsts.push(v);
      return v;
    },
    make: (op, inputs, attrs = {}) => {
      const n = builder.node(op, [...inputs], attrs);
      created.push(n);
      return n.outputs[0]!;
    },
    fail: (reason) => ({ failure: reason }),
  };
  const rollback = (reason: string): false => {
    g.nodes = g.nodes.filter((n) => !created.includes(n));
    g.constants = g.constants.filter((c) => !createdConsts.includes(c));
    for (const c of createdConsts) g.weights.delete(c.weight!);
    trace?.(`${where(r, node)}: ${reason}`);
    return false;
  };

  let result;
  try {
    result = r.apply(m.match.bindings, ctx);
  } catch (e) {
    rollback('threw');
    throw e;
  }
  if (result === undefined) return rollback('declined');
  if (isFailure(result)) return rollback(`failed: ${result.failure}`);
  const reps: readonly Value[] = Array.isArray(result) ? result : [result as Value];
  const isNew = (v: Value): boolean => createdConsts.includes(v) || (v.producer !== undefined && created.includes(v.producer));
  for (let i = 0; i < node.outputs.length; i++) {
    const old = node.outputs[i]!;
    const rep = reps[i];
    if (rep === undefined) {
      if (g.outputs.includes(old) || usesOf(old).length > 0) throw new Error(`rule ${r.name} gave no replacement for used result %${old.name} of ${node.describe()}`);
      continue;
    }
    if (!sameElemType(rep.type.dtype, old.type.dtype) || !shapesCompatible(rep.type.shape, old.type.shape)) {
      throw new Error(`rule ${r.name} replaced %${old.name}: ${formatType(old.type)} of ${node.describe()} by %${rep.name}: ${formatType(rep.type)}`);
    }
    if (g.outputs.includes(old) && !isNew(rep)) return rollback(`failed: result %${old.name} is a graph output and would be renamed`);
  }

  for (let i = 0; i < reps.length; i++) g.replaceAllUses(node.outputs[i]!, reps[i]!);
  g.remove(node);
  // A new value takes over the name of the result it replaces, so names stay stable.
  reps.forEach((rep, i) => {
    if (!isNew(rep)) return;
    const name = node.outputs[i]!.name;
    if (rep.weight === rep.name && rep.weight !== name && !g.weights.has(name)) {
      g.weights.set(name, g.weights.get(rep.weight)!);
      g.weights.delete(rep.weight);
      rep.weight = name;
    }
    rep.name = name;
  });
  eraseDead(g, [...m.match.nodes.filter((n) => n !== node), ...created, ...createdConsts,
    ...node.inputs.flatMap((v) => (v ? [v.producer ?? v] : []))]);
  trace?.(`${where(r, node)}: applied`);
  return true;
}
