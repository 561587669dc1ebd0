/**
 * @fileoverview The op registry: for each op its arity, attribute schema (with defaults),
 * type/shape inference and, for ONNX ops, how older opset forms are upgraded to the canonical
 * form the IR uses (the semantics of the latest opset, inputs-not-attributes).
 *
 * Op families register themselves from src/ir/ops/<family>.ts; `src/ir/ops/index.ts` imports
 * them all.
 */
import { LutraError } from './diagnostics.js';
import type { AttrValue, Attrs, Graph, Node, Value } from './graph.js';
import type { Tensor } from './tensor.js';
import type { TensorType } from './types.js';

export type AttrKind = 'int' | 'float' | 'string' | 'ints' | 'floats' | 'strings' | 'tensor' | 'graph';

export interface AttrSpec {
  readonly kind: AttrKind;
  /** Default when absent; attributes without a default and not `optional` are required. */
  readonly default?: AttrValue;
  /** Absent is meaningful (no default value). */
  readonly optional?: boolean;
}

export interface InferCtx {
  readonly node: Node;
  /** Input types; undefined where the optional input is omitted. */
  readonly inputs: readonly (TensorType | undefined)[];
  /** Number of outputs the node has. */
  readonly numOutputs: number;
  /** Attribute value with the schema default applied. */
  attr<T extends AttrValue>(name: string): T;
  /** The input's value when statically known (a constant), else undefined. */
  constant(i: number): Tensor | undefined;
  /** Report a type error on this node. */
  fail(message: string): never;
}

/** What an opset upgrade may do: read the node's original ONNX attributes and add constants. */
export interface UpgradeCtx {
  readonly opset: number;
  readonly graph: Graph;
  /** Make a constant value (an initializer) and return it. */
  constant(t: Tensor, hint: string): Value;
  fail(message: string): never;
}

export interface OpDef {
  /** Dialect-prefixed name, e.g. `onnx.Conv`. */
  readonly name: string;
  readonly summary: string;
  /** Min / max number of inputs (max Infinity = variadic). Trailing optional inputs may be null. */
  readonly inputs: readonly [number, number];
  readonly outputs: readonly [number, number];
  readonly attrs: Readonly<Record<string, AttrSpec>>;
  /** Output types from input types. */
  infer(ctx: InferCtx): TensorType[];
  /**
   * ONNX ops only: rewrite an older-opset form into the canonical (latest) form in place —
   * move attributes to inputs, rename attributes, etc. Called by the importer for every node.
   */
  upgrade?(node: Node, ctx: UpgradeCtx): void;
  /** The opset the canonical form was introduced in (what export declares at least). */
  readonly since?: number;
  /**
   * Non-ONNX ops (fused.*, q.*): build the equivalent onnx.* subgraph with `b` (inserted
   * before `node`) and return the values replacing the node's outputs. Export uses this so the
   * exported model runs in ONNX Runtime.
   */
  expand?(node: Node, b: import('./builder.js').Builder): Value[];
}

const REGISTRY = new Map<string, OpDef>();

export function registerOp(def: OpDef): OpDef {
  if (REGISTRY.has(def.name)) throw new Error(`op ${def.name} registered twice`);
  REGISTRY.set(def.name, def);
  return def;
}

export function getOp(name: string): OpDef | undefined {
  return REGISTRY.get(name);
}

export function allOps(): OpDef[] {
  return [...REGISTRY.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Attributes of `node` with schema defaults filled in. */
export function attrsWithDefaults(node: Node): Attrs {
  const def = REGISTRY.get(node.op);
  const out: Attrs = {};
  if (def) for (const [k, s] of Object.entries(def.attrs)) if (s.default !== undefined) out[k] = s.default;
  return Object.assign(out, node.attrs);
}

/** Read one attribute with its default; throws a diagnostic naming the node when a required one is absent. */
export function getAttr<T extends AttrValue>(node: Node, name: string): T {
  const v = node.attrs[name];
  if (v !== undefined) return v as T;
  const spec = REGISTRY.get(node.op)?.attrs[name];
  if (spec?.default !== undefined) return spec.default as T;
  if (spec?.optional) return undefined as unknown as T;
  throw new LutraError('model', `missing required attribute '${name}'`, node.describe());
}

/** Run type inference for one node. `constant` resolves statically known input values. */
export function inferTypes(node: Node, constant: (v: Value) => Tensor | undefined): TensorType[] {
  const def = REGISTRY.get(node.op);
  if (!def) throw new LutraError('unsupported', `unknown op ${node.op}`, node.describe());
  const ctx: InferCtx = {
    node,
    inputs: node.inputs.map((v) => v?.type),
    numOutputs: node.outputs.length,
    attr: <T extends AttrValue>(name: string) => getAttr<T>(node, name),
    constant: (i) => {
      const v = node.inputs[i];
      return v ? constant(v) : undefined;
    },
    fail: (message) => {
      throw new LutraError('type', message, node.describe());
    },
  };
  return def.infer(ctx);
}
