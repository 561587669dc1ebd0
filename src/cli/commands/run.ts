/** @fileoverview `lutra run`: run a model on a data directory and write its outputs in the same layout. */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { LutraError, isLutraError } from '../../ir/diagnostics.js';
import { readDataDir, writeTensor } from '../../frontends/onnx/testdata.js';
import { checkInputs, run as interpret } from '../../interp/interpreter.js';
import { loadModel } from '../../load.js';
import { type ArtifactRun, artifactRunner, isArtifact } from '../../runtime/node-runner.js';
import { type Command, checkBackend, str, usageError } from '../command.js';
import { Progress } from '../progress.js';

/** Move every file of `from` (one level of set subdirectories) into `to`, replacing existing files. */
function moveInto(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) moveInto(join(from, e.name), join(to, e.name));
    else renameSync(join(from, e.name), join(to, e.name));
  }
}

/** Runs one data set: outputs with their names (the artifact runner's contract). */
type Runner = ArtifactRun;

function refRunner(path: string, sets: ReturnType<typeof readDataDir>): Runner {
  const graph = loadModel(path).graph;
  for (const set of sets) {
    try {
      checkInputs(graph, set.inputs);
    } catch (e) {
      if (isLutraError(e)) throw new LutraError(e.code, e.message, set.dir);
      throw e;
    }
  }
  return async (inputs) => ({ outs: interpret(graph, inputs, { trusted: true }), names: graph.outputs.map((v) => v.name) });
}

export const run: Command = {
  name: 'run',
  summary: 'Run a model on input_<i>.pb / .npy files and write output_<i>.pb files.',
  args: ['model.onnx|.lir|artifact-dir'],
  options: {
    inputs: { type: 'string', value: 'dir', required: true, help: 'data directory: input_<i>.pb|.npy, directly or in test_data_set_<n>/' },
    outputs: { type: 'string', value: 'dir', required: true, help: 'where output_<i>.pb files go, mirroring the input layout' },
    backend: { type: 'string', value: 'name', help: 'backend to run on (default ref, the reference interpreter; an artifact directory runs on its target)' },
  },
  details: `Inputs are matched to graph inputs by index and checked (count, element type, shape) before
anything runs; nothing is written unless every data set ran. Output files are TensorProtos
named after the graph outputs.

An artifact directory written by 'lutra compile' runs on the runtime of its target (wasm).

Examples:
  lutra run examples/digits_mlp/model.onnx --inputs examples/digits_mlp/data --outputs out
  lutra run out/digits_mlp --inputs examples/digits_mlp/data --outputs out-wasm
  lutra run model.lir --inputs calib --outputs calib-out`,
  async run(args, io) {
    const path = args.positionals[0]!;
    const backend = str(args, 'backend');
    const artifact = isArtifact(path);
    if (artifact && backend !== undefined && backend !== 'wasm') throw usageError(this, `${path} is a wasm artifact: it runs on the wasm backend, not '${backend}'`);
    if (!artifact) checkBackend(this, backend);
    const outDir = resolve(str(args, 'outputs')!);
    const sets = readDataDir(str(args, 'inputs')!);
    const runner = artifact ? (await artifactRunner(path)).run : refRunner(path, sets);
    mkdirSync(dirname(outDir), { recursive: true });
    const staging = mkdtempSync(join(dirname(outDir), `.${basename(outDir)}.tmp-`));
    try {
      const progress = new Progress(io, 'run', sets.length);
      let files = 0;
      for (const [i, set] of sets.entries()) {
        progress.update(i, set.name);
        const { outs, names } = await runner(set.inputs, set.dir);
        const dir = join(staging, set.name);
        mkdirSync(dir, { recursive: true });
        outs.forEach((t, j) => writeTensor(join(dir, `output_${j}.pb`), t, names[j]));
        files += outs.length;
      }
      progress.finish();
      moveInto(staging, outDir);
      io.stdout(`wrote ${files} output file${files === 1 ? '' : 's'} for ${sets.length} data set${sets.length === 1 ? '' : 's'} to ${str(args, 'outputs')}\n`);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return 0;
  },
};
