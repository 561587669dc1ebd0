import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Progress, formatDuration } from '../../src/cli/progress.js';
import { Tensor } from '../../src/ir/tensor.js';
import { readTensor, writeTensor } from '../../src/frontends/onnx/testdata.js';
import { compareTensors } from '../../src/testing/onnx-suite.js';
import { lutra, userError } from '../helpers/cli.js';
import { CORPUS, HAS_SHARED, ONNX_TESTS, ROOT } from '../helpers/shared.js';

const MLP = join(ROOT, 'examples/digits_mlp/model.onnx');
const MLP_DATA = join(ROOT, 'examples/digits_mlp/data');
const BIN = join(ROOT, 'dist/cli/main.js');
const tmp = mkdtempSync(join(tmpdir(), 'lutra-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
/** A fresh directory under the test's temp dir. */
const fresh = (name: string): string => join(tmp, `${seq++}-${name}`);

/** Files under `dir` (relative paths), or [] when it does not exist. */
function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.pb')).sort();
}

describe('lutra: help and version', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await lutra('--version')).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('--help lists every command', async () => {
    const r = await lutra('--help');
    expect(r.code).toBe(0);
    for (const c of ['inspect', 'opt', 'quantize', 'run', 'eval', 'passes', 'test-onnx']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });

  it.each(['inspect', 'opt', 'quantize', 'run', 'eval', 'passes', 'test-onnx'])('%s --help and -h print its usage', async (c) => {
    const r = await lutra(c, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: lutra ${c}`);
    expect(r.stdout).toContain('-h, --help');
    expect((await lutra(c, '-h')).stdout).toBe(r.stdout);
  });

  it('no arguments prints help to stderr and exits 1', async () => {
    const r = await lutra();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Usage: lutra <command>');
  });
});

describe('lutra inspect', () => {
  it('--json reports ops, params, sizes, opsets and the signature of digits_mlp', async () => {
    const r = await lutra('inspect', MLP, '--json');
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({
      format: 'onnx',
      fileBytes: 342186,
      opsets: { 'ai.onnx': 17 },
      inputs: [{ name: 'input', type: 'f32[batch,64]' }],
      outputs: [{ name: 'logits', type: 'f32[batch,10]' }],
      ops: { 'onnx.Gemm': 3, 'onnx.Erf': 2 },
    });
    // 85,002 trained parameters plus the GELU constants (0.5, 1, sqrt 2, twice each).
    expect(s.params).toBeGreaterThanOrEqual(85002);
    expect(s.weightBytes).toBe(s.params * 4);
  });

  it('prints a readable summary', async () => {
    const r = await lutra('inspect', MLP);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^inputs +%input: f32\[batch,64\]$/m);
    expect(r.stdout).toMatch(/^ops +onnx\.Mul +4$/m);
    expect(r.stdout).toMatch(/^opsets +ai\.onnx 17$/m);
  });

  it('--ir prints the text IR with weights elided', async () => {
    const r = await lutra('inspect', MLP, '--ir');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^graph @torch_jit\(/m);
    expect(r.stdout).not.toMatch(/^weights \{/m);
  });

  it.skipIf(!HAS_SHARED)('works on every trained corpus model', async () => {
    for (const m of ['digits_mlp', 'digits_cnn', 'digits_vit', 'char_lm']) {
      const r = await lutra('inspect', join(CORPUS, m, 'model.onnx'), '--json');
      expect(r.code, `${m}: ${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout).params).toBeGreaterThan(0);
    }
  });
});

describe('lutra opt', () => {
  it('round-trips digits_mlp through .lir and .onnx and the result still computes the stored outputs', async () => {
    const d = fresh('opt');
    mkdirSync(d);
    const lir = join(d, 'mlp.lir');
    const onnx = join(d, 'mlp.onnx');
    expect((await lutra('opt', MLP, '--passes', '', '-o', lir)).code).toBe(0);
    expect(readFileSync(lir, 'utf8')).toMatch(/^weights \{/m);
    const r2 = await lutra('opt', lir, '--passes', '', '-o', onnx, '--verify-each');
    expect(r2.code, r2.stderr).toBe(0);
    for (const model of [lir, onnx]) {
      const out = join(d, `out-${model.endsWith('.lir') ? 'lir' : 'onnx'}`);
      const r = await lutra('run', model, '--inputs', MLP_DATA, '--outputs', out);
      expect(r.code, r.stderr).toBe(0);
      const want = readTensor(join(MLP_DATA, 'test_data_set_0/output_0.pb'));
      expect(compareTensors(readTensor(join(out, 'test_data_set_0/output_0.pb')), want, 1e-4, 1e-4)).toBeUndefined();
    }
  });

  it('without -o prints text IR that parses back to the same text', async () => {
    const d = fresh('print');
    mkdirSync(d);
    const a = await lutra('opt', MLP, '--passes', '');
    expect(a.code).toBe(0);
    const lir = join(d, 'a.lir');
    expect((await lutra('opt', MLP, '--passes', '', '-o', lir)).code).toBe(0);
    const b = await lutra('opt', lir, '--passes', '');
    expect(b.stdout).toBe(a.stdout);
  });
});

describe('lutra opt: pass-manager flags and plugins', () => {
  const plugin = join(ROOT, 'tests/lit/cli/Inputs/rename-pass.mjs');

  it('--plugin adds passes; --timing, --verify-each and --print-after-all report on stderr', async () => {
    const r = await lutra('opt', MLP, '--plugin', plugin, '--passes', 'rename-graph{to=mlp}', '--timing', '--verify-each', '--print-after-all');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^graph @mlp\(/m);
    expect(r.stderr).toMatch(/^\/\/ IR after rename-graph\nmodel \{.*\}\ngraph @mlp\(/m);
    expect(r.stderr).toMatch(/^pass timing:\n {2}rename-graph +[0-9.]+ ms\n {2}total +[0-9.]+ ms$/m);
  });

  it('passes --plugin lists the plugin pass with its options', async () => {
    const r = await lutra('passes', '--plugin', plugin);
    expect(r.stdout).toMatch(/^rename-graph +Rename the main graph \(a test plugin\)\.\n +to: string = "renamed" +the new graph name$/m);
    const j = JSON.parse((await lutra('passes', '--json', '--plugin', plugin)).stdout) as { name: string; options: unknown }[];
    expect(j.find((p) => p.name === 'rename-graph')?.options).toEqual({ to: { type: 'string', default: 'renamed', doc: 'the new graph name' } });
  });

  it('a plugin that cannot be loaded is one error line naming the file', async () => {
    await userError(/no-plugin\.mjs: cannot load plugin/, 'opt', MLP, '--plugin', join(tmp, 'no-plugin.mjs'), '--passes', '');
  });

  it('--print-after naming an unknown pass is a usage error', async () => {
    await userError(/--print-after names unknown pass 'nope'/, 'opt', MLP, '--passes', '', '--print-after=nope');
  });
});

describe('lutra run', () => {
  it('writes outputs matching the stored ONNX Runtime outputs (flat layout mirrored)', async () => {
    const data = fresh('flat');
    mkdirSync(data);
    copyFileSync(join(MLP_DATA, 'test_data_set_0/input_0.pb'), join(data, 'input_0.pb'));
    const out = fresh('flat-out');
    const r = await lutra('run', MLP, '--inputs', data, '--outputs', out, '--backend', 'ref');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`wrote 1 output file for 1 data set to ${out}\n`);
    expect(listFiles(out)).toEqual(['output_0.pb']);
    const got = readTensor(join(out, 'output_0.pb'));
    expect(compareTensors(got, readTensor(join(MLP_DATA, 'test_data_set_0/output_0.pb')), 1e-4, 1e-4)).toBeUndefined();
  });

  it('accepts .npy inputs', async () => {
    const { encodeNpy } = await import('../../src/frontends/onnx/testdata.js');
    const data = fresh('npy');
    mkdirSync(data);
    writeFileSync(join(data, 'input_0.npy'), encodeNpy(readTensor(join(MLP_DATA, 'test_data_set_0/input_0.pb'))));
    const out = fresh('npy-out');
    expect((await lutra('run', MLP, '--inputs', data, '--outputs', out)).code).toBe(0);
    expect(listFiles(out)).toEqual(['output_0.pb']);
  });

  it.skipIf(!HAS_SHARED)('mirrors test_data_set_<n>/ layout over the corpus calibration sets', async () => {
    const out = fresh('calib-out');
    const r = await lutra('run', join(CORPUS, 'digits_mlp/model.onnx'), '--inputs', join(CORPUS, 'digits_mlp/calib'), '--outputs', out);
    expect(r.code, r.stderr).toBe(0);
    expect(listFiles(out)).toEqual(Array.from({ length: 8 }, (_, i) => `test_data_set_${i}/output_0.pb`).sort());
  });

  it.skipIf(!HAS_SHARED)('reproduces the corpus eval reference outputs', async () => {
    const out = fresh('eval-out');
    expect((await lutra('run', join(CORPUS, 'digits_mlp/model.onnx'), '--inputs', join(CORPUS, 'digits_mlp/eval'), '--outputs', out)).code).toBe(0);
    const want = readTensor(join(CORPUS, 'digits_mlp/eval/test_data_set_0/output_0.pb'));
    expect(compareTensors(readTensor(join(out, 'test_data_set_0/output_0.pb')), want, 1e-4, 1e-4)).toBeUndefined();
  });
});

describe.skipIf(!HAS_SHARED)('lutra test-onnx', () => {
  const node = join(ONNX_TESTS, 'node');

  it('runs a few node tests and ends with the summary line', async () => {
    const r = await lutra('test-onnx', node, '--filter', '^test_(abs|relu|gemm_default_no_bias)$');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout.trimEnd().split('\n').pop()).toBe('3 passed, 0 failed, 0 skipped');
  });

  it('--json lists every result with skip reasons', async () => {
    const r = await lutra('test-onnx', node, '--json', '--filter', '^test_(abs|adagrad)$');
    const rep = JSON.parse(r.stdout) as { results: { name: string; status: string; reason?: string }[]; passed: number; skipped: number };
    expect(rep.results.map((x) => x.name)).toEqual(['test_abs', 'test_adagrad']);
    expect(rep.passed).toBe(1);
    const skipped = rep.results.find((x) => x.name === 'test_adagrad')!;
    expect(skipped.status).toBe('skipped');
    expect(skipped.reason).toBeTruthy();
    expect(r.stderr.trim().split('\n').pop()).toBe('1 passed, 0 failed, 1 skipped');
  });

  it('exits 1 and lists the failure when a test fails', async () => {
    const d = fresh('suite');
    mkdirSync(join(d, 'test_abs_broken/test_data_set_0'), { recursive: true });
    copyFileSync(join(node, 'test_abs/model.onnx'), join(d, 'test_abs_broken/model.onnx'));
    copyFileSync(join(node, 'test_abs/test_data_set_0/input_0.pb'), join(d, 'test_abs_broken/test_data_set_0/input_0.pb'));
    const want = readTensor(join(node, 'test_abs/test_data_set_0/output_0.pb'));
    const wrong = Tensor.from(want.dtype, want.shape, want.toNumbers().map((x) => x + 1));
    writeTensor(join(d, 'test_abs_broken/test_data_set_0/output_0.pb'), wrong);
    const r = await lutra('test-onnx', d);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL test_abs_broken: .*output 0/m);
    expect(r.stdout.trimEnd().split('\n').pop()).toBe('0 passed, 1 failed, 0 skipped');
  });
});

describe('lutra passes', () => {
  it('lists passes with summaries; --json gives names, summaries and options', async () => {
    const r = await lutra('passes');
    expect(r.code, r.stderr).toBe(0);
    const j = await lutra('passes', '--json');
    const list = JSON.parse(j.stdout) as { name: string; summary: string; options: unknown }[];
    expect(list.length).toBeGreaterThan(0);
    for (const p of list) {
      expect(p.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(p.summary.length).toBeGreaterThan(0);
      expect(r.stdout).toContain(p.name);
    }
  });
});

describe('lutra: bad input is one error line, exit 1, no output left behind', () => {
  it('missing model file', async () => {
    await userError(/nope\.onnx: no such file/, 'inspect', join(tmp, 'nope.onnx'));
  });

  it('unknown model extension', async () => {
    const p = fresh('model.txt');
    writeFileSync(p, 'x');
    await userError(/model\.txt: unknown model format '\.txt'/, 'inspect', p);
  });

  it('a file that is not ONNX', async () => {
    const p = fresh('junk.onnx');
    writeFileSync(p, 'this is not a protobuf at all, just text\n');
    await userError(/junk\.onnx: /, 'inspect', p);
  });

  it('a truncated model', async () => {
    const p = fresh('truncated.onnx');
    writeFileSync(p, readFileSync(MLP).subarray(0, 100_000));
    await userError(/truncated\.onnx: /, 'inspect', p);
  });

  it('a text IR syntax error points at file:line:col', async () => {
    const p = fresh('bad.lir');
    writeFileSync(p, 'graph @g(%x: f32[2]) -> f32[2] {\n  %y = onnx.Relu(%x) : f32[2]\n  return %nope\n}\n');
    await userError(/bad\.lir:3:\d+: .*nope/, 'inspect', p);
  });

  it('an unknown pass names the pass and writes nothing', async () => {
    const out = fresh('unknown-pass.lir');
    await userError(/no-such-pass/, 'opt', MLP, '--passes', 'no-such-pass', '-o', out);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown output extension fails before running anything', async () => {
    const out = fresh('out.txt');
    await userError(/out\.txt: unknown model format '\.txt'/, 'opt', MLP, '--passes', '', '-o', out);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown option names the flag', async () => {
    await userError(/unknown option '--frobnicate' for 'lutra inspect'/, 'inspect', MLP, '--frobnicate');
    await userError(/unknown option '--nope'/, '--nope');
  });

  it('an unknown command names it', async () => {
    await userError(/unknown command 'frob' \(commands: inspect, opt, quantize, compile, run, eval, passes, test-onnx\)/, 'frob');
  });

  it('a missing required flag or argument names it', async () => {
    await userError(/'lutra opt' needs --passes <pipeline>/, 'opt', MLP);
    await userError(/'lutra run' needs --outputs <dir>/, 'run', MLP, '--inputs', MLP_DATA);
    await userError(/'lutra inspect' needs <model\.onnx\|\.lir>/, 'inspect');
    await userError(/option '--passes' needs a value/, 'opt', MLP, '--passes');
    await userError(/unexpected argument 'extra'/, 'inspect', MLP, 'extra');
  });

  it('an unavailable backend is a usage error listing the available ones', async () => {
    const out = fresh('backend-out');
    await userError(/backend 'webgpu' is not available \(available backends: ref\)/, 'run', MLP, '--inputs', MLP_DATA, '--outputs', out, '--backend', 'webgpu');
    expect(existsSync(out)).toBe(false);
  });

  it('wrong input count to run names the data set and the model inputs', async () => {
    const data = fresh('two-inputs');
    mkdirSync(data);
    copyFileSync(join(MLP_DATA, 'test_data_set_0/input_0.pb'), join(data, 'input_0.pb'));
    copyFileSync(join(MLP_DATA, 'test_data_set_0/input_0.pb'), join(data, 'input_1.pb'));
    const out = fresh('count-out');
    await userError(/two-inputs: model takes 1 input\(s\) \(input\), got 2/, 'run', MLP, '--inputs', data, '--outputs', out);
    expect(existsSync(out)).toBe(false);
  });

  it('wrong input shape to run names the input', async () => {
    const data = fresh('bad-shape');
    mkdirSync(data);
    writeTensor(join(data, 'input_0.pb'), Tensor.zeros('f32', [2, 63]));
    const out = fresh('shape-out');
    await userError(/bad-shape: input 'input' expects f32\[batch,64\], got shape \[2,63\]/, 'run', MLP, '--inputs', data, '--outputs', out);
    expect(existsSync(out)).toBe(false);
  });

  it('wrong input dtype to run names the input', async () => {
    const data = fresh('bad-dtype');
    mkdirSync(join(data, 'test_data_set_0'), { recursive: true });
    mkdirSync(join(data, 'test_data_set_1'), { recursive: true });
    copyFileSync(join(MLP_DATA, 'test_data_set_0/input_0.pb'), join(data, 'test_data_set_0/input_0.pb'));
    writeTensor(join(data, 'test_data_set_1/input_0.pb'), Tensor.zeros('i64', [1, 64]));
    const out = fresh('dtype-out');
    await userError(/test_data_set_1: input 'input' expects f32\[batch,64\], got dtype i64/, 'run', MLP, '--inputs', data, '--outputs', out);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a missing data directory names it', async () => {
    await userError(/no-data: data directory not found/, 'run', MLP, '--inputs', join(tmp, 'no-data'), '--outputs', fresh('x'));
  });
});

describe.skipIf(!existsSync(BIN))('the built binary (node dist/cli/main.js)', () => {
  const bin = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });

  it('prints the version and inspects a model', () => {
    expect(bin('--version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const r = bin('inspect', 'examples/digits_mlp/model.onnx', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).outputs).toEqual([{ name: 'logits', type: 'f32[batch,10]' }]);
  });

  it('runs a model and writes its outputs', () => {
    const out = fresh('bin-out');
    const r = bin('run', 'examples/digits_mlp/model.onnx', '--inputs', 'examples/digits_mlp/data', '--outputs', out);
    expect(r.status, r.stderr).toBe(0);
    expect(listFiles(out)).toEqual(['test_data_set_0/output_0.pb']);
  });

  it('reports a user error as one line with exit code 1, no stack trace', () => {
    const r = bin('run', 'examples/digits_mlp/model.onnx', '--inputs', 'examples/digits_mlp/data');
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^lutra: error: 'lutra run' needs --outputs <dir> \(see 'lutra run --help'\)\n$/);
  });
});

describe('progress', () => {
  const capture = (isTTY: boolean) => {
    const lines: string[] = [];
    return { io: { stdout: () => {}, stderr: (s: string) => { lines.push(s); }, isTTY }, lines };
  };

  it('redraws one line with count and ETA on a terminal, and clears it at the end', () => {
    let t = 0;
    const { io, lines } = capture(true);
    const p = new Progress(io, 'test-onnx', 10, () => t);
    t = 1000; p.update(2, 'test_abs');
    t = 1050; p.update(3);
    p.finish();
    expect(lines).toEqual(['\r\x1b[Ktest-onnx: 2/10 (20%) ETA 4s test_abs', '\r\x1b[K']);
  });

  it('prints plain lines at most every 5 s otherwise', () => {
    let t = 0;
    const { io, lines } = capture(false);
    const p = new Progress(io, 'run', 100, () => t);
    t = 1000; p.update(10);
    t = 6000; p.update(50);
    t = 7000; p.update(60);
    p.finish();
    expect(lines).toEqual(['run: 50/100 (50%) ETA 6s\n']);
  });

  it('formats durations', () => {
    expect(formatDuration(42_400)).toBe('42s');
    expect(formatDuration(65_000)).toBe('1m05s');
  });
});
