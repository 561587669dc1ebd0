/**
 * @fileoverview ONNX model → Lutra Model. Checks the opset range and that every op is known
 * (one error listing all unknown ones), imports the graph (import-graph.ts), lifts quantized
 * forms into quantized types (lift-quant.ts) and verifies it.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LutraError } from '../../ir/diagnostics.js';
import { Model } from '../../ir/graph.js';
import { getOp } from '../../ir/registry.js';
import '../../ir/ops/index.js';
import { verify } from '../../ir/verifier.js';
import { importGraph, subgraphsOf } from './import-graph.js';
import { type LiftQuantMode, liftQuant } from './lift-quant.js';
import { type OnnxTypes, onnx, toNum } from './proto.js';

/** Oldest ai.onnx opset the importer accepts (upgrade hooks start here). */
export const MIN_OPSET = 6;
/** Newest ai.onnx opset the importer accepts (the canonical form). */
export const MAX_OPSET = 25;

/** How importOnnx reads a model. */
export interface ImportOptions {
  /** The model file, named in error messages. */
  path?: string;
  /** Directory external-data locations are relative to (default: the path's directory). */
  baseDir?: string;
  /** Run the IR verifier on the result (default true). */
  verify?: boolean;
  /**
   * Lift quantized ONNX into quantized types and q.* ops (lift-quant.ts): `all` (default), `qdq`
   * (only the exact QDQ rules, QOperator / integer ops kept) or `none`.
   */
  liftQuant?: LiftQuantMode;
}

/** Read an ONNX file; external data is read relative to its directory. */
export function loadOnnx(path: string, opts: Omit<ImportOptions, 'path'> = {}): Model {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new LutraError('io', `cannot read model: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, path);
  }
  return importOnnx(bytes, { baseDir: dirname(path), ...opts, path });
}

/** Decode and import a serialized ModelProto. */
export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): Model {
  const file = opts.path ?? '<model>';
  const proto = decodeModel(bytes, file);
  checkOpsetRange(proto, file);
  checkOps(proto, file);
  const opset = defaultOpset(proto, file);
  const graph = importGraph(proto.graph!, {
    file,
    baseDir: opts.baseDir ?? (opts.path ? dirname(opts.path) : '.'),
    opset,
    names: collectNames(proto.graph!),
  });
  const model = new Model(graph);
  model.opsets = Object.fromEntries((proto.opsetImport ?? []).map((o) => [o.domain === 'ai.onnx' ? '' : o.domain ?? '', toNum(o.version)]));
  model.irVersion = toNum(proto.irVersion);
  model.producer = [proto.producerName, proto.producerVersion].filter(Boolean).join(' ');
  model.docString = proto.docString ?? '';
  model.metadata = Object.fromEntries((proto.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  liftQuant(model.graph, opts.liftQuant);
  if (opts.verify !== false) verifyModel(model, file);
  return model;
}

function decodeModel(bytes: Uint8Array, file: string): OnnxTypes.ModelProto {
  let proto: OnnxTypes.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new LutraError('parse', `not a valid ONNX model (${(e as Error).message.split('\n')[0]})`, file);
  }
  if (!proto.graph) throw new LutraError('parse', `not an ONNX model: it has no graph (${bytes.length} bytes)`, file);
  return proto;
}

const defaultEntry = (proto: OnnxTypes.ModelProto) => (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');

function checkOpsetRange(proto: OnnxTypes.ModelProto, file: string): void {
  const entry = defaultEntry(proto);
  const v = toNum(entry?.version);
  if (entry && (v < MIN_OPSET || v > MAX_OPSET)) {
    throw new LutraError('unsupported', `ai.onnx opset ${v} is not supported (Lutra imports opsets ${MIN_OPSET}–${MAX_OPSET})`, file);
  }
}

/** The ai.onnx opset (checked by checkOpsetRange); required once every op is known to be ai.onnx. */
function defaultOpset(proto: OnnxTypes.ModelProto, file: string): number {
  const entry = defaultEntry(proto);
  if (!entry) throw new LutraError('model', 'the model imports no ai.onnx opset', file);
  return toNum(entry.version);
}

/** One error listing every op Lutra has no definition for, across all subgraphs. */
function checkOps(proto: OnnxTypes.ModelProto, file: string): void {
  const opsets = new Map((proto.opsetImport ?? []).map((o) => [o.domain === 'ai.onnx' ? '' : o.domain ?? '', toNum(o.version)]));
  const missing = new Map<string, string>();
  const visit = (g: OnnxTypes.IGraphProto) => {
    for (const n of g.node ?? []) {
      const domain = n.domain === 'ai.onnx' ? '' : n.domain ?? '';
      const known = domain === '' && (n.opType === 'Constant' || getOp(`onnx.${n.opType}`) !== undefined);
      const key = `${domain || 'ai.onnx'}::${n.opType}`;
      if (!known && !missing.has(key)) {
        const where = n.name ? `node '${n.name}'` : `node with output '${n.output?.[0] ?? '?'}'`;
        missing.set(key, `${key} (opset ${opsets.get(domain) ?? '?'}, ${where})`);
      }
      for (const sub of subgraphsOf(n)) visit(sub);
    }
  };
  visit(proto.graph!);
  if (missing.size > 0) {
    const n = missing.size;
    throw new LutraError('unsupported', `${n} unsupported op${n === 1 ? '' : 's'}: ${[...missing.values()].join(', ')}`, file);
  }
}

function collectNames(g: OnnxTypes.IGraphProto, into = new Set<string>()): Set<string> {
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) into.add(v.name ?? '');
  for (const t of g.initializer ?? []) into.add(t.name ?? '');
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) into.add(o);
    for (const sub of subgraphsOf(n)) collectNames(sub, into);
  }
  return into;
}

function verifyModel(model: Model, file: string): void {
  try {
    verify(model.graph);
  } catch (e) {
    if (e instanceof LutraError) throw new LutraError(e.code, e.message, file);
    throw e;
  }
}
