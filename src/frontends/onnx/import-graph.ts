/**
 * @fileoverview GraphProto → Graph: initializers and Constant nodes become constants, nodes are
 * sorted topologically, upgraded to their canonical (latest-opset) form and typed; If nodes
 * with a constant condition are replaced by the taken branch. Subgraphs import recursively and
 * see the values of their enclosing graphs by name.
 */
import { constantOf } from '../../ir/builder.js';
import { LutraError, isLutraError } from '../../ir/diagnostics.js';
import { type AttrValue, Graph, Node, Value } from '../../ir/graph.js';
import { getOp, inferTypes, type UpgradeCtx } from '../../ir/registry.js';
import { Tensor } from '../../ir/tensor.js';
import type { TensorType } from '../../ir/types.js';
import { type OnnxTypes, onnx, toAttrInt, toNum } from './proto.js';
import { tensorFromProto } from './tensor-proto.js';
import { refineType, typeFromProto } from './value-types.js';

/** What every graph of one model shares while importing. */
export interface ImportCtx {
  /** The model file, named in every error. */
  readonly file: string;
  readonly baseDir: string;
  /** Opset of the default domain. */
  readonly opset: number;
  /** Every value name of the model and those created on import, so new names never collide. */
  readonly names: Set<string>;
}

/** Names visible to a graph: its own values, then its enclosing graphs'. */
class Scope {
  readonly values = new Map<string, Value>();
  constructor(readonly parent?: Scope) {}
  get(name: string): Value | undefined {
    return this.values.get(name) ?? this.parent?.get(name);
  }
}

const AT = onnx.AttributeProto.AttributeType;

/** `node 'conv1' (Conv)` or `node (Conv, output 'y')`: how import errors name an ONNX node. */
export function describeProto(n: OnnxTypes.INodeProto): string {
  const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}::${n.opType}` : n.opType;
  return n.name ? `node '${n.name}' (${op})` : `node (${op}, output '${n.output?.[0] ?? '?'}')`;
}

/** Import the main graph of a model. */
export function importGraph(proto: OnnxTypes.IGraphProto, ctx: ImportCtx): Graph {
  const g = new Graph(proto.name || 'main');
  new GraphImporter(ctx, g, new Scope()).run(proto);
  return g;
}

/** Names a subgraph uses but does not define itself (nested subgraphs included). */
export function freeNames(g: OnnxTypes.IGraphProto): Set<string> {
  const defined = new Set<string>([...(g.input ?? []).map((v) => v.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
  for (const n of g.node ?? []) for (const o of n.output ?? []) defined.add(o);
  const free = new Set<string>();
  const use = (name: string) => { if (name && !defined.has(name)) free.add(name); };
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) use(i);
    for (const sub of subgraphsOf(n)) for (const f of freeNames(sub)) use(f);
  }
  for (const o of g.output ?? []) use(o.name ?? '');
  return free;
}

/** The GRAPH / GRAPHS attributes of a node. */
export function subgraphsOf(n: OnnxTypes.INodeProto): OnnxTypes.IGraphProto[] {
  const out: OnnxTypes.IGraphProto[] = [];
  for (const a of n.attribute ?? []) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

class GraphImporter {
  private readonly declared = new Map<string, OnnxTypes.ITypeProto>();

  constructor(private readonly ctx: ImportCtx, private readonly graph: Graph, private readonly scope: Scope) {}

  run(proto: OnnxTypes.IGraphProto): void {
    const { graph, scope, ctx } = this;
    for (const vi of [...(proto.valueInfo ?? []), ...(proto.output ?? [])]) if (vi.name && vi.type) this.declared.set(vi.name, vi.type);
    for (const t of proto.initializer ?? []) {
      const name = t.name ?? '';
      scope.values.set(name, graph.addConstant(name, tensorFromProto(t, { file: ctx.file, baseDir: ctx.baseDir }), this.weightKey(name)));
    }
    for (const vi of proto.input ?? []) {
      const name = vi.name ?? '';
      if (scope.values.has(name)) continue; // an input with an initializer is a constant
      const v = new Value(name, typeFromProto(vi.type, `graph '${graph.name}' input '${name}'`, ctx.file));
      graph.inputs.push(v);
      scope.values.set(name, v);
    }
    for (const n of sortNodes(proto, scope, ctx.file)) this.importNode(n);
    for (const vi of proto.output ?? []) {
      const v = scope.get(vi.name ?? '');
      if (!v) throw new LutraError('model', `graph '${graph.name}' output '${vi.name}' is not defined by any node, input or initializer`, ctx.file);
      graph.outputs.push(v);
    }
  }

  private declaredType(name: string): TensorType | undefined {
    const tp = this.declared.get(name);
    if (!tp?.tensorType) return undefined;
    try {
      return typeFromProto(tp, name);
    } catch {
      return undefined; // value_info is advisory: one Lutra cannot represent refines nothing
    }
  }

  private weightKey(name: string): string {
    const w = this.graph.weights;
    if (!w.has(name)) return name;
    for (let i = 1; ; i++) if (!w.has(`${name}_${i}`)) return `${name}_${i}`;
  }

  private freshName(hint: string): string {
    const names = this.ctx.names;
    let name = hint;
    for (let i = 1; names.has(name); i++) name = `${hint}_${i}`;
    names.add(name);
    return name;
  }

  private importNode(n: OnnxTypes.INodeProto): void {
    try {
      if (n.opType === 'Constant' && !isCustomDomain(n)) this.importConstant(n);
      else if (n.opType === 'If' && !isCustomDomain(n) && this.foldIf(n)) return;
      else this.importOp(n);
    } catch (e) {
      if (isLutraError(e) && !e.message.startsWith(this.ctx.file)) throw new LutraError(e.code, e.message, this.ctx.file);
      throw e;
    }
  }

  private importConstant(n: OnnxTypes.INodeProto): void {
    const a = n.attribute?.[0];
    const where = describeProto(n);
    if (!a || (n.attribute?.length ?? 0) !== 1) throw new LutraError('model', `${where} must have exactly one value attribute`);
    let t: Tensor;
    switch (a.name) {
      case 'value': t = tensorFromProto(a.t ?? {}, { file: this.ctx.file, baseDir: this.ctx.baseDir }); break;
      case 'value_float': t = Tensor.scalar('f32', a.f ?? 0); break;
      case 'value_floats': t = Tensor.from('f32', [a.floats?.length ?? 0], a.floats ?? []); break;
      case 'value_int': t = Tensor.scalar('i64', BigInt(toNum(a.i))); break;
      case 'value_ints': t = Tensor.from('i64', [a.ints?.length ?? 0], (a.ints ?? []).map((x) => BigInt(toNum(x)))); break;
      default: throw new LutraError('unsupported', `${where}: Constant attribute '${a.name}' (strings, sparse tensors) is not supported`);
    }
    const name = n.output?.[0] ?? '';
    this.scope.values.set(name, this.graph.addConstant(name, t, this.weightKey(name)));
  }

  private operands(n: OnnxTypes.INodeProto): (Value | null)[] {
    return (n.input ?? []).map((name) => {
      if (name === '') return null;
      const v = this.scope.get(name);
      if (!v) throw new LutraError('model', `${describeProto(n)} uses '${name}', which no node, graph input or initializer defines`);
      return v;
    });
  }

  private importOp(n: OnnxTypes.INodeProto): void {
    const { graph, scope, ctx } = this;
    const inputs = this.operands(n);
    const outNames = [...(n.output ?? [])];
    while (outNames.length > 0 && outNames[outNames.length - 1] === '') outNames.pop();
    const outputs = outNames.map((name, i) => new Value(name || this.freshName(`${n.name || n.opType}_unused_${i}`), { dtype: 'f32', shape: undefined }));
    const attrs: Record<string, AttrValue> = {};
    for (const a of n.attribute ?? []) attrs[a.name ?? ''] = this.attrValue(a, n);
    const node = new Node(`onnx.${n.opType}`, inputs, outputs, attrs, n.name ?? '');
    const def = getOp(node.op)!;
    if (def.upgrade) {
      const uctx: UpgradeCtx = {
        opset: ctx.opset,
        graph,
        constant: (t, hint) => {
          const name = this.freshName(hint);
          return graph.addConstant(name, t, this.weightKey(name));
        },
        fail: (message) => { throw new LutraError('unsupported', `${node.describe()}: ${message}`); },
      };
      def.upgrade(node, uctx);
    }
    const types = inferTypes(node, (v) => constantOf(graph, v));
    node.outputs.forEach((o, i) => { o.type = refineType(types[i] ?? o.type, this.declaredType(o.name)); });
    graph.add(node);
    for (const o of node.outputs) scope.values.set(o.name, o);
  }

  private attrValue(a: OnnxTypes.IAttributeProto, n: OnnxTypes.INodeProto): AttrValue {
    const has = (k: string) => Object.prototype.hasOwnProperty.call(a, k);
    const type = a.type || (a.floats?.length ? AT.FLOATS : a.ints?.length ? AT.INTS : a.strings?.length ? AT.STRINGS
      : a.t ? AT.TENSOR : a.g ? AT.GRAPH : has('s') ? AT.STRING : has('f') ? AT.FLOAT : AT.INT);
    switch (type) {
      case AT.INT: return toAttrInt(a.i);
      case AT.FLOAT: return a.f ?? 0;
      case AT.STRING: return new TextDecoder().decode(a.s ?? new Uint8Array());
      case AT.INTS: return (a.ints ?? []).map(toAttrInt);
      case AT.FLOATS: return [...(a.floats ?? [])];
      case AT.STRINGS: return (a.strings ?? []).map((s) => new TextDecoder().decode(s));
      case AT.TENSOR: return tensorFromProto(a.t ?? {}, { file: this.ctx.file, baseDir: this.ctx.baseDir });
      case AT.GRAPH: return this.subgraph(a.g ?? {});
      default:
        throw new LutraError('unsupported', `${describeProto(n)}: attribute '${a.name}' has kind ${AT[type] ?? type}, which Lutra does not support`);
    }
  }

  private subgraph(proto: OnnxTypes.IGraphProto): Graph {
    const sub = new Graph(proto.name || 'subgraph', this.graph.weights);
    sub.parent = this.graph;
    new GraphImporter(this.ctx, sub, new Scope(this.scope)).run(proto);
    return sub;
  }

  /** Inline the taken branch of an If whose condition is a constant; false when it is not one. */
  private foldIf(n: OnnxTypes.INodeProto): boolean {
    const cond = this.operands(n)[0];
    const c = cond ? constantOf(this.graph, cond) : undefined;
    if (!c || c.size !== 1) return false;
    const branchName = c.get(0) ? 'then_branch' : 'else_branch';
    const proto = n.attribute?.find((a) => a.name === branchName)?.g;
    if (!proto) throw new LutraError('model', `${describeProto(n)} has no ${branchName}`);
    const branch = this.subgraph(proto);
    const { graph, scope } = this;
    graph.constants.push(...branch.constants);
    for (const node of branch.nodes) {
      for (const a of Object.values(node.attrs)) if (a instanceof Graph) a.parent = graph;
      graph.add(node);
    }
    const outs = n.output ?? [];
    if (branch.outputs.length < outs.filter((o) => o !== '').length) {
      throw new LutraError('model', `${describeProto(n)}: ${branchName} has ${branch.outputs.length} outputs, the node ${outs.length}`);
    }
    outs.forEach((name, i) => {
      if (name === '') return;
      const v = branch.outputs[i]!;
      const own = v.producer !== undefined ? branch.nodes.includes(v.producer) : branch.constants.includes(v);
      if (own) {
        v.name = name;
        v.type = refineType(v.type, this.declaredType(name));
      }
      scope.values.set(name, v);
    });
    return true;
  }
}

function isCustomDomain(n: OnnxTypes.INodeProto): boolean {
  return !!n.domain && n.domain !== 'ai.onnx';
}

/**
 * Nodes in dependency order, keeping the file's order where it is already valid (depth-first,
 * iterative so deep chains do not overflow the stack). A node depends on the producers of its
 * inputs and of the outer values its subgraphs capture.
 */
function sortNodes(proto: OnnxTypes.IGraphProto, scope: Scope, file: string): OnnxTypes.INodeProto[] {
  const nodes = proto.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) {
      if (o === '') continue;
      const prev = producer.get(o);
      if (prev !== undefined) throw new LutraError('model', `value '${o}' is produced by both ${describeProto(nodes[prev]!)} and ${describeProto(n)}`, file);
      if (scope.values.has(o)) throw new LutraError('model', `${describeProto(n)} produces '${o}', which is already a graph input or initializer`, file);
      producer.set(o, i);
    }
  });
  const deps = nodes.map((n) => {
    const names = new Set((n.input ?? []).filter((x) => x !== ''));
    for (const sub of subgraphsOf(n)) for (const f of freeNames(sub)) names.add(f);
    const out: number[] = [];
    for (const name of names) {
      const p = producer.get(name);
      if (p !== undefined) out.push(p);
      else if (!scope.get(name)) throw new LutraError('model', `${describeProto(n)} uses '${name}', which no node, graph input or initializer defines`, file);
    }
    return out;
  });
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the stack, 2 done
  const order: OnnxTypes.INodeProto[] = [];
  for (let root = 0; root < nodes.length; root++) {
    if (state[root]) continue;
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const d = deps[top[0]]!;
      if (top[1] < d.length) {
        const next = d[top[1]++]!;
        if (state[next] === 1) throw new LutraError('model', `graph '${proto.name ?? ''}' has a cycle through ${describeProto(nodes[next]!)}`, file);
        if (state[next] === 0) { state[next] = 1; stack.push([next, 0]); }
      } else {
        state[top[0]] = 2;
        order.push(nodes[top[0]]!);
        stack.pop();
      }
    }
  }
  return order;
}
