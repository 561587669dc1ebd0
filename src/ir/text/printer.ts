/**
 * @fileoverview The text IR printer (format: docs/ir-text-format.md). Its output parses back
 * with `parseModel` to a model that prints identically.
 */
import { Graph, type AttrValue, type Model, type Node, type Value } from '../graph.js';
import { getOp, type AttrKind } from '../registry.js';
import { Tensor } from '../tensor.js';
import { formatFloat, formatType, isQuant, quoteIdent, type TensorType } from '../types.js';
import { formatDense, tensorToBytes } from './tensor-data.js';

export interface PrintOptions {
  /** `include` appends a `weights { }` section with the data of every non-inline constant; `elide` (default) omits it. */
  readonly weights?: 'elide' | 'include';
}

/** Constants with at most this many elements print inline as `dense<[…]>`. */
export const INLINE_LIMIT = 16;

const BARE_SIGIL_NAME = /^[A-Za-z0-9_.$-]+$/;

/** `%x`, `%0`, `%"/blocks.0/Mul_output_0"`. */
export function formatValueName(name: string): string {
  return `%${BARE_SIGIL_NAME.test(name) ? name : JSON.stringify(name)}`;
}

/** `@main`, `@conv.weight`, `@"odd key"`. */
export function formatSymbol(name: string): string {
  return `@${quoteIdent(name)}`;
}

/** The whole model: optional `model {…}` header, the main graph, optional weights section. */
export function printModel(model: Model, opts: PrintOptions = {}): string {
  const header = formatHeader(model);
  return `${header ? `${header}\n` : ''}${printGraph(model.graph, opts)}`;
}

/** One graph (with its weights section when `opts.weights === 'include'`). */
export function printGraph(g: Graph, opts: PrintOptions = {}): string {
  const text = `${formatGraph(g, '')}\n`;
  return opts.weights === 'include' ? text + formatWeights(g) : text;
}

/** The tensor a constant prints inline, or undefined when it prints as `const @key`. */
export function inlineTensor(g: Graph, v: Value): Tensor | undefined {
  const t = v.weight === v.name ? g.weights.get(v.name) : undefined;
  if (!t || t.size > INLINE_LIMIT) return undefined;
  const storage = isQuant(v.type.dtype) ? v.type.dtype.storage : v.type.dtype;
  const shape = v.type.shape;
  const sameShape = shape !== undefined && shape.length === t.shape.length && shape.every((d, i) => d === t.shape[i]);
  return storage === t.dtype && sameShape ? t : undefined;
}

const MODEL_DEFAULTS = { irVersion: 8, producer: 'lutra' };

function formatHeader(m: Model): string | undefined {
  const fields: string[] = [];
  const opsets = Object.entries(m.opsets);
  if (opsets.length !== 1 || m.opsets[''] !== 17) {
    fields.push(`opsets = {${opsets.map(([d, v]) => `${JSON.stringify(d)} = ${v}`).join(', ')}}`);
  }
  if (m.irVersion !== MODEL_DEFAULTS.irVersion) fields.push(`ir_version = ${m.irVersion}`);
  if (m.producer !== MODEL_DEFAULTS.producer) fields.push(`producer = ${JSON.stringify(m.producer)}`);
  if (m.docString) fields.push(`doc_string = ${JSON.stringify(m.docString)}`);
  const meta = Object.entries(m.metadata);
  if (meta.length) fields.push(`metadata = {${meta.map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)}`).join(', ')}}`);
  return fields.length ? `model {${fields.join(', ')}}` : undefined;
}

/** `f32[2]` for one result, `(f32[2], i64[])` otherwise. */
function formatResults(types: readonly TensorType[]): string {
  return types.length === 1 ? formatType(types[0]!) : `(${types.map(formatType).join(', ')})`;
}

/** `graph @name(%x: T) -> R {` … `}`; the body is indented one step past `indent`. */
function formatGraph(g: Graph, indent: string): string {
  const inner = `${indent}  `;
  const args = g.inputs.map((v) => `${formatValueName(v.name)}: ${formatType(v.type)}`).join(', ');
  const lines = [`graph ${formatSymbol(g.name)}(${args}) -> ${formatResults(g.outputs.map((v) => v.type))} {`];
  for (const c of g.constants) lines.push(`${inner}${formatConstant(g, c)}`);
  for (const n of g.nodes) lines.push(`${inner}${formatNode(n, inner)}`);
  const ret = g.outputs.map((v) => formatValueName(v.name)).join(', ');
  lines.push(`${inner}return${ret ? ` ${ret}` : ''}`, `${indent}}`);
  return lines.join('\n');
}

function formatConstant(g: Graph, v: Value): string {
  const t = inlineTensor(g, v);
  const rhs = t ? formatDense(t) : formatSymbol(v.weight ?? v.name);
  return `${formatValueName(v.name)} = const ${rhs} : ${formatType(v.type)}`;
}

function formatNode(n: Node, indent: string): string {
  const results = n.outputs.map((o) => formatValueName(o.name)).join(', ');
  const operands = n.inputs.map((v) => (v ? formatValueName(v.name) : '_')).join(', ');
  const schema = getOp(n.op)?.attrs;
  const attrs = Object.keys(n.attrs).sort()
    .map((k) => `${quoteIdent(k)} = ${formatAttr(n.attrs[k]!, schema?.[k]?.kind, indent)}`);
  const types = n.outputs.map((o) => formatType(o.type)).join(', ');
  return `${results ? `${results} = ` : ''}${n.op}(${operands})${attrs.length ? ` {${attrs.join(', ')}}` : ''}`
    + `${types ? ` : ${types}` : ''}${n.name ? ` loc(${JSON.stringify(n.name)})` : ''}`;
}

/** Numbers print as floats when the schema says so or when they are not integers. */
function formatNumber(x: number, float: boolean): string {
  return float || !Number.isInteger(x) ? formatFloat(x) : String(x);
}

function formatAttr(v: AttrValue, kind: AttrKind | undefined, indent: string): string {
  const float = kind === 'float' || kind === 'floats';
  if (v instanceof Graph) return formatGraph(v, indent);
  if (v instanceof Tensor) return `${formatDense(v)} : ${formatType({ dtype: v.dtype, shape: v.shape })}`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return formatNumber(v, float);
  return `[${v.map((x: number | string) => (typeof x === 'string' ? JSON.stringify(x) : formatNumber(x, float))).join(', ')}]`;
}

/** Every graph of `g` (itself and nested subgraphs). */
function allGraphs(g: Graph, out: Graph[] = []): Graph[] {
  out.push(g);
  for (const n of g.nodes) for (const a of Object.values(n.attrs)) if (a instanceof Graph) allGraphs(a, out);
  return out;
}

/** `weights { @key = f32[2] x"…" }` for every store entry that no constant prints inline. */
function formatWeights(g: Graph): string {
  const inline = new Set<string>();
  for (const sg of allGraphs(g)) for (const c of sg.constants) if (inlineTensor(sg, c)) inline.add(c.name);
  const lines: string[] = [];
  for (const key of g.weights.keys()) {
    if (inline.has(key)) continue;
    const t = g.weights.get(key)!;
    const bytes = tensorToBytes(t);
    const hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
    lines.push(`  ${formatSymbol(key)} = ${formatType({ dtype: t.dtype, shape: t.shape })} x"${hex}"`);
  }
  return lines.length ? `weights {\n${lines.join('\n')}\n}\n` : '';
}
