/**
 * @fileoverview `cse`: common-subexpression elimination. Two nodes with the same op, the same
 * operands and the same attributes compute the same thing; the later one is replaced by the
 * earlier. Constants are the same operand when they refer to the same weight-store key with the
 * same type — tensor contents are never compared or hashed.
 */
import { Graph, type Node, type Value } from '../ir/graph.js';
import { attrsWithDefaults } from '../ir/registry.js';
import { formatType, sameElemType } from '../ir/types.js';
import { definePass, registerPass } from './manager.js';

/** Ops whose two operands can be swapped. */
const COMMUTATIVE = new Set(['onnx.Add', 'onnx.Mul', 'onnx.Max', 'onnx.Min', 'onnx.Sum', 'onnx.Mean', 'onnx.And', 'onnx.Or', 'onnx.Xor', 'onnx.Equal']);

function cseGraph(g: Graph, trace: ((line: string) => void) | undefined): number {
  let merged = 0;
  const firstConst = new Map<string, Value>();
  const dupConsts = new Set<Value>();
  for (const c of g.constants) {
    const k = `${c.weight}|${formatType(c.type)}`;
    const prev = firstConst.get(k);
    if (!prev) { firstConst.set(k, c); continue; }
    if (g.outputs.includes(c)) continue;
    g.replaceAllUses(c, prev);
    dupConsts.add(c);
    trace?.(`merged constant %${c.name} into %${prev.name} (same key @${c.weight})`);
  }
  g.constants = g.constants.filter((c) => !dupConsts.has(c));
  merged += dupConsts.size;

  const ids = new Map<unknown, number>();
  const id = (x: unknown): number => {
    let i = ids.get(x);
    if (i === undefined) ids.set(x, (i = ids.size));
    return i;
  };
  const attrKey = (n: Node): string => JSON.stringify(Object.entries(attrsWithDefaults(n)).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => [k, typeof v === 'object' && !Array.isArray(v) ? `#${id(v)}` : v]));
  const seen = new Map<string, Node>();
  const removed = new Set<Node>();
  for (const n of g.nodes) {
    if (Object.values(n.attrs).some((a) => a instanceof Graph)) continue;
    const operands = n.inputs.map((v) => (v ? id(v) : -1));
    if (COMMUTATIVE.has(n.op)) operands.sort((a, b) => a - b);
    const key = `${n.op}(${operands.join(',')})${attrKey(n)}/${n.outputs.length}`;
    const prev = seen.get(key);
    if (!prev) { seen.set(key, n); continue; }
    if (n.outputs.some((o, i) => g.outputs.includes(o) || !sameElemType(o.type.dtype, prev.outputs[i]!.type.dtype))) continue;
    n.outputs.forEach((o, i) => g.replaceAllUses(o, prev.outputs[i]!));
    removed.add(n);
    trace?.(`replaced ${n.describe()} by ${prev.describe()}`);
  }
  g.nodes = g.nodes.filter((n) => !removed.has(n));
  merged += removed.size;
  for (const n of g.nodes) for (const a of Object.values(n.attrs)) if (a instanceof Graph) merged += cseGraph(a, trace);
  return merged;
}

export const cse = definePass({
  name: 'cse',
  summary: 'merge nodes with the same op, operands and attributes (constants compared by weight key)',
  description: '%a = op(%x) {k}; %b = op(%x) {k} → %a used for both; const %c1 = @w; const %c2 = @w → one constant.',
  options: {},
  run(model, _options, ctx) {
    cseGraph(model.graph, ctx.trace);
  },
});
registerPass(cse);
