/**
 * @fileoverview Running a compiled artifact directory from Node on Lutra tensors, with the
 * checks and diagnostics `lutra run` and `lutra eval` share. Not part of the artifact: only
 * executor.ts is copied into artifacts as runtime.js.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LutraError } from '../ir/diagnostics.js';
import { Tensor } from '../ir/tensor.js';
import { ArtifactError, type AnyArray, type LoadedModel, type Manifest, loadArtifact } from './executor.js';

/** A directory holding manifest.json is a compiled artifact. */
export const isArtifact = (path: string): boolean => existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'manifest.json'));

/** Runs one data set (`where` locates input errors): all outputs in manifest order, with their names. */
export type ArtifactRun = (inputs: readonly Tensor[], where: string) => Promise<{ outs: Tensor[]; names: string[] }>;

/** Load the artifact in `dir` (a bad artifact is an `io` error naming it) and a runner checking inputs against its manifest. */
export async function artifactRunner(dir: string): Promise<{ manifest: Manifest; run: ArtifactRun }> {
  let m: LoadedModel;
  try {
    m = await loadArtifact(dir);
  } catch (e) {
    if (e instanceof ArtifactError) throw new LutraError('io', e.message, dir);
    throw e;
  }
  const man = m.manifest;
  const run: ArtifactRun = async (inputs, where) => {
    if (inputs.length !== man.inputs.length) throw new LutraError('input', `artifact takes ${man.inputs.length} input(s) (${m.inputNames.join(', ')}), got ${inputs.length}`, where);
    const feeds: Record<string, AnyArray> = {};
    man.inputs.forEach((io, i) => {
      const t = inputs[i]!;
      if (t.dtype !== io.dtype) throw new LutraError('input', `input '${io.name}' expects ${io.dtype}, got dtype ${t.dtype}`, where);
      const fixed = io.declaredShape.slice(man.batch ? 1 : 0);
      const got = t.shape.slice(man.batch ? 1 : 0);
      if (t.shape.length !== io.declaredShape.length || fixed.some((d, k) => typeof d === 'number' ? d !== got[k] : io.shape[k + (man.batch ? 1 : 0)] !== got[k])) {
        throw new LutraError('input', `input '${io.name}' expects shape [${io.declaredShape.join(',')}] (compiled for [${io.shape.join(',')}]), got [${t.shape.join(',')}]`, where);
      }
      feeds[io.name] = t.data as AnyArray;
    });
    let res: Record<string, AnyArray>;
    try {
      res = await m.run(feeds);
    } catch (e) {
      if (e instanceof ArtifactError) throw new LutraError('input', e.message, where);
      throw e;
    }
    const samples = man.batch ? inputs[0]!.shape[0]! : 0;
    const outs = man.outputs.map((io) => {
      const shape = man.batch ? [samples, ...io.shape.slice(1)] : [...io.shape];
      return new Tensor(io.dtype, shape, res[io.name]!);
    });
    return { outs, names: m.outputNames.slice() };
  };
  return { manifest: man, run };
}
