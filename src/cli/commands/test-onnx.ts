/** @fileoverview `lutra test-onnx`: run ONNX backend conformance tests through the importer and a backend. */
import { existsSync, statSync } from 'node:fs';
import { LutraError } from '../../ir/diagnostics.js';
import { runOnnxSuite } from '../../testing/onnx-suite.js';
import { type Command, checkBackend, flag, str, usageError } from '../command.js';
import { Progress } from '../progress.js';

export const testOnnx: Command = {
  name: 'test-onnx',
  summary: 'Run ONNX backend conformance tests (node/, simple/, light/, ...) and compare outputs.',
  args: ['dir'],
  options: {
    backend: { type: 'string', value: 'name', help: 'backend to run on (default ref, the reference interpreter)' },
    json: { type: 'boolean', help: 'print every result (passed, failed, skipped with reasons) as JSON' },
    filter: { type: 'string', value: 'regex', help: 'run only tests whose name matches' },
  },
  details: `<dir> holds one folder per test (model.onnx + test_data_set_<n>/), like the ONNX repository's
onnx/backend/test/data/node. Outputs are compared like ONNX's backend runner (rtol 1e-3,
atol 1e-7; integers exactly). Tests using ops or element types Lutra does not support are
skipped with the reason. Failures are listed, then the line 'N passed, M failed, K skipped'.
Exit code 1 when any test failed.

Examples:
  lutra test-onnx ../shared/onnx-tests/node --filter '^test_(relu|gemm)'
  lutra test-onnx ../shared/onnx-tests/simple --json > report.json`,
  async run(args, io) {
    const dir = args.positionals[0]!;
    checkBackend(this, str(args, 'backend'));
    let filter: RegExp | undefined;
    const f = str(args, 'filter');
    if (f !== undefined) {
      try {
        filter = new RegExp(f);
      } catch (e) {
        throw usageError(this, `invalid --filter regex '${f}': ${(e as Error).message}`);
      }
    }
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new LutraError('io', 'test directory not found', dir);
    let progress: Progress | undefined;
    const report = runOnnxSuite(dir, {
      filter,
      onProgress: (done, total, name) => {
        progress ??= new Progress(io, 'test-onnx', total);
        progress.update(done, name);
      },
    });
    progress?.finish();
    const summary = `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`;
    if (flag(args, 'json')) {
      io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      io.stderr(`${summary}\n`);
    } else {
      for (const r of report.results) if (r.status === 'failed') io.stdout(`FAIL ${r.name}: ${r.reason ?? ''}\n`);
      io.stdout(`${summary}\n`);
    }
    return report.failed > 0 ? 1 : 0;
  },
};
