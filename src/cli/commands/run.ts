/** @fileoverview `lutra run`: run a model on a data directory and write its outputs in the same layout. */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { LutraError, isLutraError } from '../../ir/diagnostics.js';
import { readDataDir, writeTensor } from '../../frontends/onnx/testdata.js';
import { checkInputs, run as interpret } from '../../interp/interpreter.js';
import { loadModel } from '../../load.js';
import { type Command, checkBackend, str } from '../command.js';
import { Progress } from '../progress.js';

/** Move every file of `from` (one level of set subdirectories) into `to`, replacing existing files. */
function moveInto(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    if (e.isDirectory()) moveInto(join(from, e.name), join(to, e.name));
    else renameSync(join(from, e.name), join(to, e.name));
  }
}

export const run: Command = {
  name: 'run',
  summary: 'Run a model on input_<i>.pb / .npy files and write output_<i>.pb files.',
  args: ['model.onnx|.lir'],
  options: {
    inputs: { type: 'string', value: 'dir', required: true, help: 'data directory: input_<i>.pb|.npy, directly or in test_data_set_<n>/' },
    outputs: { type: 'string', value: 'dir', required: true, help: 'where output_<i>.pb files go, mirroring the input layout' },
    backend: { type: 'string', value: 'name', help: 'backend to run on (default ref, the reference interpreter)' },
  },
  details: `Inputs are matched to graph inputs by index and checked (count, element type, shape) before
anything runs; nothing is written unless every data set ran. Output files are TensorProtos
named after the graph outputs.

Examples:
  lutra run examples/digits_mlp/model.onnx --inputs examples/digits_mlp/data --outputs out
  lutra run model.lir --inputs calib --outputs calib-out`,
  async run(args, io) {
    checkBackend(this, str(args, 'backend'));
    const model = loadModel(args.positionals[0]!);
    const outDir = resolve(str(args, 'outputs')!);
    const sets = readDataDir(str(args, 'inputs')!);
    const graph = model.graph;
    for (const set of sets) {
      try {
        checkInputs(graph, set.inputs);
      } catch (e) {
        if (isLutraError(e)) throw new LutraError(e.code, e.message, set.dir);
        throw e;
      }
    }
    mkdirSync(dirname(outDir), { recursive: true });
    const staging = mkdtempSync(join(dirname(outDir), `.${basename(outDir)}.tmp-`));
    try {
      const progress = new Progress(io, 'run', sets.length);
      let files = 0;
      sets.forEach((set, i) => {
        progress.update(i, set.name);
        const outs = interpret(graph, set.inputs, { trusted: true });
        const dir = join(staging, set.name);
        mkdirSync(dir, { recursive: true });
        outs.forEach((t, j) => writeTensor(join(dir, `output_${j}.pb`), t, graph.outputs[j]!.name));
        files += outs.length;
      });
      progress.finish();
      moveInto(staging, outDir);
      io.stdout(`wrote ${files} output file${files === 1 ? '' : 's'} for ${sets.length} data set${sets.length === 1 ? '' : 's'} to ${str(args, 'outputs')}\n`);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    return 0;
  },
};
