/**
 * @fileoverview Lutra Model → ONNX that onnxruntime runs. Non-ONNX ops (fused.*, q.*) are first
 * expanded into onnx.* subgraphs by their `expand` hook, on a copy of the graph; constants become
 * raw-data initializers; attributes are written with the kind their op schema declares.
 */
import { writeFileAtomic } from '../../io.js';
import { Builder } from '../../ir/builder.js';
import { LutraError } from '../../ir/diagnostics.js';
import { cloneGraph, copyWeights } from '../../ir/clone.js';
import { type AttrValue, Graph, type Model, Node, Value } from '../../ir/graph.js';
import { type AttrKind, getOp } from '../../ir/registry.js';
import { Tensor } from '../../ir/tensor.js';
import { type OnnxTypes, onnx } from './proto.js';
import { tensorToProto } from './tensor-proto.js';
import { typeToProto } from './value-types.js';

/** The opset export declares at least (the canonical forms are those of the latest opsets). */
export const EXPORT_MIN_OPSET = 21;

/** Serialize a model as an ONNX ModelProto. */
export function exportOnnx(model: Model): Uint8Array {
  const graph = cloneGraph(model.graph, copyWeights(model.graph.weights));
  expandNonOnnx(graph);
  let opset = EXPORT_MIN_OPSET;
  forEachNode(graph, (n) => { opset = Math.max(opset, getOp(n.op)?.since ?? 0); });
  const proto = onnx.ModelProto.create({
    irVersion: opset >= 23 ? 11 : 10,
    producerName: 'lutra',
    docString: model.docString,
    opsetImport: [{ domain: '', version: opset }],
    metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
    graph: graphToProto(graph),
  });
  return onnx.ModelProto.encode(proto).finish();
}

/** Write a model to `path` (temp file then rename: a failed export leaves no partial file). */
export function saveOnnx(model: Model, path: string): void {
  writeFileAtomic(path, exportOnnx(model));
}

function forEachNode(g: Graph, f: (n: Node) => void): void {
  for (const n of g.nodes) {
    f(n);
    for (const a of Object.values(n.attrs)) if (a instanceof Graph) forEachNode(a, f);
  }
}

/** Replace every non-onnx node by its expansion, until only onnx.* ops remain. */
function expandNonOnnx(g: Graph): void {
  for (let round = 0; ; round++) {
    const pending = g.nodes.filter((n) => !n.op.startsWith('onnx.'));
    if (pending.length === 0) break;
    if (round >= 16) throw new LutraError('unsupported', `expansion of ${pending[0]!.op} does not reach onnx.* ops`, pending[0]!.describe());
    // Uses are rewired after the whole round, so each expansion still sees its operands' original
    // types (q.dequantize reads its parameters from the quantized type of its operand).
    const rewire: [Value, Value][] = [];
    for (const n of pending) {
      const def = getOp(n.op);
      if (!def?.expand) throw new LutraError('unsupported', `${n.op} has no ONNX expansion, so it cannot be exported`, n.describe());
      const b = new Builder(g);
      b.insertionPoint = n;
      const before = new Set(g.nodes);
      const repl = def.expand(n, b);
      n.outputs.forEach((o, i) => {
        const r = repl[i];
        if (!r) throw new Error(`internal error: expansion of ${n.describe()} returned no value for output ${i}`);
        rewire.push([o, r]);
        if (r.producer && !before.has(r.producer)) r.name = o.name; // new values keep the names users know
      });
      g.remove(n);
    }
    for (const [o, r] of rewire) g.replaceAllUses(o, r);
  }
  for (const n of g.nodes) for (const a of Object.values(n.attrs)) if (a instanceof Graph) expandNonOnnx(a);
}

function graphToProto(g: Graph): OnnxTypes.GraphProto {
  const defined = new Set<Value>([...g.inputs, ...g.constants]);
  for (const n of g.nodes) for (const o of n.outputs) defined.add(o);
  const nodes = g.nodes.map(nodeToProto);
  const outputs = g.outputs.map((v, i) => {
    if (!g.parent || defined.has(v)) return v;
    // a subgraph output captured from the enclosing graph: ONNX wants it produced inside
    const out = new Value(g.freshName(`${v.name}_${g.name}_out${i}`), v.type);
    nodes.push(onnx.NodeProto.create({ opType: 'Identity', input: [v.name], output: [out.name] }));
    return out;
  });
  return onnx.GraphProto.create({
    name: g.name,
    node: nodes,
    initializer: g.constants.map((v) => {
      const t = v.weight === undefined ? undefined : g.weights.get(v.weight);
      if (!t) throw new LutraError('model', `constant %${v.name} has no data (weight @${v.weight}), so it cannot be exported`);
      return tensorToProto(t, v.name);
    }),
    input: g.inputs.map((v) => valueInfo(v)),
    output: outputs.map((v) => valueInfo(v)),
  });
}

function valueInfo(v: Value): OnnxTypes.ValueInfoProto {
  return onnx.ValueInfoProto.create({ name: v.name, type: typeToProto(v.type, `value '${v.name}'`) });
}

function nodeToProto(n: Node): OnnxTypes.NodeProto {
  const def = getOp(n.op);
  if (!def) throw new LutraError('unsupported', `unknown op ${n.op}`, n.describe());
  const attribute = Object.entries(n.attrs).map(([name, a]) => {
    const spec = def.attrs[name];
    if (!spec) throw new LutraError('model', `attribute '${name}' is not in the schema of ${n.op}`, n.describe());
    return attrToProto(name, spec.kind, a, n);
  });
  return onnx.NodeProto.create({
    opType: n.op.slice('onnx.'.length),
    name: n.name,
    input: n.inputs.map((v) => v?.name ?? ''),
    output: n.outputs.map((v) => v.name),
    attribute,
  });
}

const AT = onnx.AttributeProto.AttributeType;

function attrToProto(name: string, kind: AttrKind, a: AttrValue, n: Node): OnnxTypes.AttributeProto {
  const bad = (): never => { throw new LutraError('model', `attribute '${name}' must be ${kind}`, n.describe()); };
  const enc = (s: string) => new TextEncoder().encode(s);
  const p = onnx.AttributeProto.create({ name });
  switch (kind) {
    case 'int': if (typeof a !== 'number') bad(); p.type = AT.INT; p.i = a as number; break;
    case 'float': if (typeof a !== 'number') bad(); p.type = AT.FLOAT; p.f = a as number; break;
    case 'string': if (typeof a !== 'string') bad(); p.type = AT.STRING; p.s = enc(a as string); break;
    case 'ints': if (!Array.isArray(a)) bad(); p.type = AT.INTS; p.ints = a as number[]; break;
    case 'floats': if (!Array.isArray(a)) bad(); p.type = AT.FLOATS; p.floats = a as number[]; break;
    case 'strings': if (!Array.isArray(a)) bad(); p.type = AT.STRINGS; p.strings = (a as string[]).map(enc); break;
    case 'tensor': if (!(a instanceof Tensor)) bad(); p.type = AT.TENSOR; p.t = tensorToProto(a as Tensor); break;
    case 'graph': if (!(a instanceof Graph)) bad(); p.type = AT.GRAPH; p.g = graphToProto(a as Graph); break;
  }
  return p;
}
