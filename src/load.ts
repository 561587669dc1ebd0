/**
 * @fileoverview Load and save models by file extension: `.onnx` through the ONNX frontend,
 * `.lir` through the text IR. Writes are atomic (temp file, then rename), so a failed command
 * never leaves a partial output file behind.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from './io.js';
import { extname } from 'node:path';
import { LutraError } from './ir/diagnostics.js';
import type { Model } from './ir/graph.js';
import { loadOnnx } from './frontends/onnx/import.js';
import { saveOnnx } from './frontends/onnx/export.js';
import { parseModel, sourceLocation } from './ir/text/parser.js';
import { collectViolations } from './ir/verifier.js';
import { printModel } from './ir/text/printer.js';

/** The format of a model path by extension; any other extension is a usage diagnostic. */
export function modelFormat(path: string): '.onnx' | '.lir' {
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx' || ext === '.lir') return ext;
  throw new LutraError('usage', `unknown model format '${ext || '(no extension)'}': expected a .onnx or .lir file`, path);
}

/** Load a `.onnx` or `.lir` model (verified); a missing file, a directory or another extension is a diagnostic. */
export function loadModel(path: string): Model {
  if (!existsSync(path)) throw new LutraError('io', 'no such file', path);
  if (statSync(path).isDirectory()) throw new LutraError('io', 'is a directory, expected a .onnx or .lir file', path);
  if (modelFormat(path) === '.onnx') return loadOnnx(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LutraError('io', `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, path);
  }
  const model = parseModel(text, path);
  verifyParsed(model);
  return model;
}

/** Verify a parsed model; the diagnostic points at the `file:line:col` of the first node at fault. */
export function verifyParsed(model: Model): void {
  const vs = collectViolations(model.graph);
  if (vs.length === 0) return;
  const at = vs.find((v) => v.node && sourceLocation(v.node));
  const loc = at?.node && sourceLocation(at.node);
  const lines = (at ? [at, ...vs.filter((v) => v !== at)] : vs).map((v) => `${v.node ? `${v.node.describe()}: ` : ''}${v.message} [${v.rule}]`);
  const message = vs.length === 1 ? lines[0]! : `${vs.length} problems: ${lines.join('; ')}`;
  throw new LutraError('verify', message, loc ? `${loc.file}:${loc.line}:${loc.col}` : `graph @${model.graph.name}`);
}

/** Save a model as `.onnx` (export) or `.lir` (text IR with weights included). */
export function saveModel(model: Model, path: string): void {
  if (modelFormat(path) === '.onnx') saveOnnx(model, path);
  else writeFileAtomic(path, printModel(model, { weights: 'include' }));
}
