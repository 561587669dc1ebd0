/** @fileoverview `lutra inspect`: what a model is (ops, parameters, size, opsets, signature), or its text IR. */
import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { dtypeInfo } from '../../ir/dtype.js';
import { Graph, type Model, type Value } from '../../ir/graph.js';
import { printModel } from '../../ir/text/printer.js';
import { formatType, isStaticShape, numel, storageDType } from '../../ir/types.js';
import { loadModel } from '../../load.js';
import { type Command, flag, usageError } from '../command.js';

/** The summary `lutra inspect --json` prints. */
export interface ModelSummary {
  file: string;
  format: 'onnx' | 'lir';
  fileBytes: number;
  graph: string;
  producer: string;
  irVersion: number;
  /** Opset by domain, `ai.onnx` for the default domain. */
  opsets: Record<string, number>;
  inputs: { name: string; type: string }[];
  outputs: { name: string; type: string }[];
  /** Nodes, subgraphs included. */
  nodes: number;
  /** Node count by op, most frequent first. */
  ops: Record<string, number>;
  constants: number;
  /** Elements in all constants. */
  params: number;
  /** Bytes the constants take in their element types (sub-byte types packed). */
  weightBytes: number;
}

function* allGraphs(g: Graph): Generator<Graph> {
  yield g;
  for (const n of g.nodes) for (const a of Object.values(n.attrs)) if (a instanceof Graph) yield* allGraphs(a);
}

/** Elements of a constant: from its weight when loaded, else from its static type (elided text IR). */
function constElements(g: Graph, v: Value): number {
  const t = g.constValue(v);
  if (t) return t.size;
  return isStaticShape(v.type.shape) ? numel(v.type.shape) : 0;
}

/** Summarize `model` loaded from `file`. */
export function summarize(model: Model, file: string): ModelSummary {
  const counts = new Map<string, number>();
  let nodes = 0;
  let constants = 0;
  let params = 0;
  let weightBytes = 0;
  for (const g of allGraphs(model.graph)) {
    for (const n of g.nodes) {
      nodes++;
      counts.set(n.op, (counts.get(n.op) ?? 0) + 1);
    }
    for (const v of g.constants) {
      const k = constElements(g, v);
      constants++;
      params += k;
      weightBytes += Math.ceil((k * dtypeInfo(storageDType(v.type.dtype)).bits) / 8);
    }
  }
  const ops = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
  const sig = (v: Value) => ({ name: v.name, type: formatType(v.type) });
  return {
    file,
    format: extname(file).toLowerCase() === '.lir' ? 'lir' : 'onnx',
    fileBytes: statSync(file).size,
    graph: model.graph.name,
    producer: model.producer,
    irVersion: model.irVersion,
    opsets: Object.fromEntries(Object.entries(model.opsets).map(([d, v]) => [d === '' ? 'ai.onnx' : d, v])),
    inputs: model.graph.inputs.map(sig),
    outputs: model.graph.outputs.map(sig),
    nodes,
    ops,
    constants,
    params,
    weightBytes,
  };
}

const group = (n: number): string => n.toLocaleString('en-US');

/** `52.5 KiB`, `1.2 MiB`, `312 B`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The human-readable summary: one `key  value` row per fact, ops as a histogram. */
export function formatSummary(s: ModelSummary): string {
  const rows: [string, string][] = [
    ['model', `${s.file} (${s.format}, ${formatBytes(s.fileBytes)})`],
    ['graph', `@${s.graph}${s.producer ? `, producer ${s.producer}` : ''}`],
    ['opsets', Object.entries(s.opsets).map(([d, v]) => `${d} ${v}`).join(', ') || '(none)'],
  ];
  s.inputs.forEach((v, i) => rows.push([i === 0 ? 'inputs' : '', `%${v.name}: ${v.type}`]));
  s.outputs.forEach((v, i) => rows.push([i === 0 ? 'outputs' : '', `%${v.name}: ${v.type}`]));
  rows.push(['nodes', group(s.nodes)]);
  rows.push(['params', `${group(s.params)} in ${group(s.constants)} constants (${formatBytes(s.weightBytes)})`]);
  const ops = Object.entries(s.ops);
  const w = Math.max(0, ...ops.map(([op]) => op.length));
  ops.forEach(([op, c], i) => rows.push([i === 0 ? 'ops' : '', `${op.padEnd(w)}  ${String(c).padStart(5)}`]));
  return `${rows.map(([k, v]) => `${k.padEnd(8)} ${v}`).join('\n')}\n`;
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'Summarize a model: ops, parameters, size, opsets, inputs and outputs.',
  args: ['model.onnx|.lir'],
  options: {
    json: { type: 'boolean', help: 'print the summary as JSON' },
    ir: { type: 'boolean', help: 'print the text IR (weights elided) instead of the summary' },
  },
  details: `Examples:
  lutra inspect examples/digits_mlp/model.onnx
  lutra inspect model.onnx --json | jq .ops
  lutra inspect model.onnx --ir > model.lir`,
  async run(args, io) {
    const file = args.positionals[0]!;
    if (flag(args, 'json') && flag(args, 'ir')) throw usageError(this, "--json and --ir cannot be used together");
    const model = loadModel(file);
    if (flag(args, 'ir')) io.stdout(printModel(model, { weights: 'elide' }));
    else if (flag(args, 'json')) io.stdout(`${JSON.stringify(summarize(model, file), null, 2)}\n`);
    else io.stdout(formatSummary(summarize(model, file)));
    return 0;
  },
};
