/**
 * @fileoverview The IR verifier, written as rules: each rule inspects the graph and reports
 * violations with the node at fault. `verify` runs them all and throws one diagnostic listing
 * every problem; `--verify-each` runs it after every pass.
 */
import { constantOf } from './builder.js';
import { LutraError } from './diagnostics.js';
import { Graph, type Node, type Value } from './graph.js';
import { Tensor } from './tensor.js';
import { getOp, inferTypes, type AttrKind } from './registry.js';
import { formatType, isQuant, sameElemType, shapesCompatible, type TensorType } from './types.js';

export interface Violation {
  rule: string;
  message: string;
  node?: Node;
}

export interface VerifyRule {
  readonly name: string;
  readonly summary: string;
  check(g: Graph, report: (message: string, node?: Node) => void): void;
}

const attrKindOk: Record<AttrKind, (v: unknown) => boolean> = {
  int: (v) => typeof v === 'number' && Number.isInteger(v),
  float: (v) => typeof v === 'number',
  string: (v) => typeof v === 'string',
  ints: (v) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x)),
  floats: (v) => Array.isArray(v) && v.every((x) => typeof x === 'number'),
  strings: (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
  tensor: (v) => v instanceof Tensor,
  graph: (v) => v instanceof Graph,
};

/** Every op is registered; arity and attributes follow its schema. */
export const opSchemaRule: VerifyRule = {
  name: 'op-schema',
  summary: 'ops are registered, arity and attributes match the schema',
  check(g, report) {
    for (const n of g.nodes) {
      const def = getOp(n.op);
      if (!def) { report(`unknown op ${n.op}`, n); continue; }
      const [imin, imax] = def.inputs;
      if (n.inputs.length < imin || n.inputs.length > imax) report(`takes ${imin === imax ? imin : `${imin}..${imax}`} inputs, has ${n.inputs.length}`, n);
      const [omin, omax] = def.outputs;
      if (n.outputs.length < omin || n.outputs.length > omax) report(`produces ${omin === omax ? omin : `${omin}..${omax}`} outputs, has ${n.outputs.length}`, n);
      for (const [k, v] of Object.entries(n.attrs)) {
        const spec = def.attrs[k];
        if (!spec) report(`unknown attribute '${k}'`, n);
        else if (!attrKindOk[spec.kind](v)) report(`attribute '${k}' must be ${spec.kind}`, n);
      }
      for (const [k, spec] of Object.entries(def.attrs)) {
        if (spec.default === undefined && !spec.optional && n.attrs[k] === undefined) report(`missing required attribute '${k}'`, n);
      }
    }
  },
};

/** Each value is defined once, before its uses (this also rules out cycles). */
export const ssaRule: VerifyRule = {
  name: 'ssa',
  summary: 'values are defined once and before use; graph outputs are defined',
  check(g, report) {
    const defined = new Set<Value>();
    for (let p = g.parent; p; p = p.parent) collectAll(p, defined);
    const def = (v: Value, n?: Node) => {
      if (defined.has(v)) report(`value %${v.name} is defined twice`, n);
      defined.add(v);
    };
    for (const v of g.inputs) def(v);
    for (const v of g.constants) def(v);
    for (const n of g.nodes) {
      n.inputs.forEach((v, i) => {
        if (v && !defined.has(v)) report(`operand ${i} (%${v.name}) is used before it is defined`, n);
      });
      for (const o of n.outputs) def(o, n);
    }
    for (const v of g.outputs) if (!defined.has(v)) report(`graph output %${v.name} is not defined`);
  },
};

function collectAll(g: Graph, s: Set<Value>): void {
  for (const v of g.inputs) s.add(v);
  for (const v of g.constants) s.add(v);
  for (const n of g.nodes) for (const o of n.outputs) s.add(o);
}

/** Names are unique within the graph scope. */
export const uniqueNamesRule: VerifyRule = {
  name: 'unique-names',
  summary: 'value names are unique',
  check(g, report) {
    const seen = new Set<string>();
    const see = (v: Value, n?: Node) => {
      if (seen.has(v.name)) report(`value name %${v.name} is used twice`, n);
      seen.add(v.name);
    };
    g.inputs.forEach((v) => see(v));
    g.constants.forEach((v) => see(v));
    for (const n of g.nodes) for (const o of n.outputs) see(o, n);
  },
};

/** Constants refer to weight-store entries whose dtype and shape match their type. */
export const constantsRule: VerifyRule = {
  name: 'constants',
  summary: 'constants match their weight-store entries',
  check(g, report) {
    for (const v of g.constants) {
      if (v.weight === undefined) { report(`constant %${v.name} has no weight key`); continue; }
      const t = g.weights.get(v.weight);
      if (!t) continue; // elided weights (text IR without data) are allowed
      const want = isQuant(v.type.dtype) ? v.type.dtype.storage : v.type.dtype;
      if (t.dtype !== want || !shapesCompatible(t.shape, v.type.shape)) {
        report(`constant %${v.name} is declared ${formatType(v.type)} but weight @${v.weight} is ${t.dtype}[${t.shape.join(',')}]`);
      }
    }
  },
};

/** Declared result types agree with what the op's type inference says. */
export const typesRule: VerifyRule = {
  name: 'types',
  summary: 'result types agree with type inference',
  check(g, report) {
    for (const n of g.nodes) {
      if (!getOp(n.op)) continue;
      let inferred: TensorType[];
      try {
        inferred = inferTypes(n, (v) => constantOf(g, v));
      } catch (e) {
        report((e as Error).message.replace(`${n.describe()}: `, ''), n);
        continue;
      }
      n.outputs.forEach((o, i) => {
        const t = inferred[i];
        if (!t) return;
        if (!sameElemType(t.dtype, o.type.dtype) || !shapesCompatible(t.shape, o.type.shape)) {
          report(`result ${i} (%${o.name}) is declared ${formatType(o.type)} but inference gives ${formatType(t)}`, n);
        }
      });
    }
  },
};

/** Subgraphs verify with their enclosing scope visible. */
export const subgraphRule: VerifyRule = {
  name: 'subgraphs',
  summary: 'subgraphs are valid in the scope of their parent',
  check(g, report) {
    for (const n of g.nodes) {
      for (const [k, a] of Object.entries(n.attrs)) {
        if (!(a instanceof Graph)) continue;
        if (a.parent !== g) report(`subgraph '${k}' does not name this graph as its parent`, n);
        for (const v of collectViolations(a)) report(`in subgraph '${k}': ${v.node ? `${v.node.describe()}: ` : ''}${v.message}`, n);
      }
    }
  },
};

export const DEFAULT_RULES: readonly VerifyRule[] = [opSchemaRule, ssaRule, uniqueNamesRule, constantsRule, typesRule, subgraphRule];

export function collectViolations(g: Graph, rules: readonly VerifyRule[] = DEFAULT_RULES): Violation[] {
  const out: Violation[] = [];
  for (const r of rules) r.check(g, (message, node) => out.push({ rule: r.name, message, node }));
  return out;
}

/** Throw one diagnostic listing every violation (first one in the message head). */
export function verify(g: Graph, rules: readonly VerifyRule[] = DEFAULT_RULES): void {
  const vs = collectViolations(g, rules);
  if (vs.length === 0) return;
  const lines = vs.map((v) => `${v.node ? `${v.node.describe()}: ` : ''}${v.message} [${v.rule}]`);
  throw new LutraError('verify', vs.length === 1 ? lines[0]! : `${vs.length} problems: ${lines.join('; ')}`, `graph @${g.name}`);
}
