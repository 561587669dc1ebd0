/**
 * @fileoverview Data files in the ONNX test-data convention: `input_<i>.pb` / `output_<i>.pb`
 * TensorProtos (or `.npy`) directly in a directory or in `test_data_set_<n>/` subdirectories.
 * `lutra run`, calibration, evaluation and the conformance-suite runner all read data here.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../../io.js';
import { dirname, join } from 'node:path';
import { LutraError } from '../../ir/diagnostics.js';
import type { Tensor } from '../../ir/tensor.js';
import { decodeNpy } from './npy.js';
import { onnx } from './proto.js';
import { tensorFromProto, tensorToProto } from './tensor-proto.js';

/** Data-file users need only this module. */
export { tensorFromProto, tensorToProto } from './tensor-proto.js';
export { decodeNpy, encodeNpy } from './npy.js';

/** One sample or batch: its tensors in graph input / output order. */
export interface DataSet {
  /** `test_data_set_<n>`, or '' when the files sit directly in `dir`. */
  name: string;
  dir: string;
  inputs: Tensor[];
  outputs: Tensor[];
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new LutraError('io', `cannot read file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, path);
  }
}

/** Read one tensor from a `.pb` TensorProto or a `.npy` file. */
export function readTensor(path: string): Tensor {
  const bytes = readBytes(path);
  if (path.endsWith('.npy')) return decodeNpy(bytes, path);
  let proto;
  try {
    proto = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new LutraError('parse', `not a TensorProto file (${(e as Error).message})`, path);
  }
  return tensorFromProto(proto, { file: path, baseDir: dirname(path) });
}

/** Write a tensor as a `.pb` TensorProto (temp file then rename: never a partial file). */
export function writeTensor(path: string, t: Tensor, name = ''): void {
  writeFileAtomic(path, onnx.TensorProto.encode(tensorToProto(t, name)).finish());
}

const DATA_FILE = /^(input|output)_(\d+)\.(pb|npy)$/;
const SET_DIR = /^test_data_set_(\d+)$/;

/** The numbered `<kind>_<i>` files of one directory, in index order; gaps are an error. */
function numbered(dir: string, files: string[], kind: 'input' | 'output'): string[] {
  const byIndex = new Map<number, string>();
  for (const f of files) {
    const m = DATA_FILE.exec(f);
    if (!m || m[1] !== kind) continue;
    const i = Number(m[2]);
    if (byIndex.has(i)) throw new LutraError('input', `both ${byIndex.get(i)} and ${f} exist`, dir);
    byIndex.set(i, f);
  }
  const out: string[] = [];
  for (let i = 0; i < byIndex.size; i++) {
    const f = byIndex.get(i);
    if (!f) throw new LutraError('input', `${kind}_${i} is missing (found ${[...byIndex.values()].sort().join(', ')})`, dir);
    out.push(join(dir, f));
  }
  return out;
}

function readSet(dir: string, name: string): DataSet {
  const files = readdirSync(dir);
  return {
    name,
    dir,
    inputs: numbered(dir, files, 'input').map(readTensor),
    outputs: numbered(dir, files, 'output').map(readTensor),
  };
}

/** Read a data directory in either layout; `test_data_set_<n>` subdirectories sort numerically. */
export function readDataDir(dir: string): DataSet[] {
  return listDataSets(dir).map((s) => readSet(s.dir, s.name));
}

/**
 * The data sets of `dir` without reading them: the directory itself (name '') when it holds
 * input_<i> files, else its `test_data_set_<n>/` subdirectories in numeric order. Streaming
 * consumers (calibration) read one set at a time with `readDataDir(set.dir)`.
 */
export function listDataSets(dir: string): { name: string; dir: string }[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LutraError('io', 'data directory not found', dir);
  const entries = readdirSync(dir);
  if (entries.some((f) => DATA_FILE.test(f))) return [{ name: '', dir }];
  const sets = entries
    .map((f) => ({ f, m: SET_DIR.exec(f) }))
    .filter((e) => e.m && statSync(join(dir, e.f)).isDirectory())
    .sort((a, b) => Number(a.m![1]) - Number(b.m![1]));
  if (sets.length === 0) throw new LutraError('io', 'no input_<i>.pb / .npy files and no test_data_set_<n>/ subdirectories', dir);
  return sets.map((e) => ({ name: e.f, dir: join(dir, e.f) }));
}
