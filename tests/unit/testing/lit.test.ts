import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  discoverLitFiles, expectedErrors, lineDiff, parseRunLines, runLitFile, splitChunks, tokenize, type LutraRunner,
} from '../../../src/testing/lit.js';

const dir = mkdtempSync(join(tmpdir(), 'lit-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string, name = `t${n++}.lir`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/**
 * A fake lutra: `echo-graphs` prints each `graph @name` line of the input file; `fail-at <re>`
 * fails with a located diagnostic at the first line matching re; records every argv.
 */
const calls: string[][] = [];
const fake: LutraRunner = async (argv, io) => {
  calls.push([...argv]);
  const [cmd, path, re] = argv;
  const text = readFileSync(path!, 'utf8');
  if (cmd === 'echo-graphs') {
    for (const l of text.split('\n')) if (l.startsWith('graph @')) io.stdout(`${l}\n`);
    io.stderr('log line\n');
    return 0;
  }
  if (cmd === 'fail-at') {
    const lines = text.split('\n');
    const i = lines.findIndex((l) => new RegExp(re!).test(l) && !l.trimStart().startsWith('//'));
    if (i < 0) { io.stdout('fine\n'); return 0; }
    io.stderr(`lutra: error: ${path}:${i + 1}:3: bad thing in ${lines[i]!.trim()}\n`);
    return 1;
  }
  if (cmd === 'crash') { io.stderr('lutra: internal error\n'); return 2; }
  return 1;
};

const ok = async (p: string) => {
  const r = await runLitFile(p, { lutra: fake });
  if (!r.ok) throw new Error(r.message);
};
const fails = async (p: string, opts: { update?: boolean } = {}) => {
  const r = await runLitFile(p, { lutra: fake, ...opts });
  if (r.ok) throw new Error('expected the lit test to fail');
  return r.message;
};

describe('lit: RUN line parsing', () => {
  it('tokenizes quotes and operators', () => {
    expect(tokenize(`lutra opt %s --passes "a,b{x=1}" 2>&1 | filecheck %s`).map((t) => t.text))
      .toEqual(['lutra', 'opt', '%s', '--passes', 'a,b{x=1}', '2>&1', '|', 'filecheck', '%s']);
    expect(tokenize(`x '' "a \\"q\\" b" '2>&1'`)).toEqual([
      { text: 'x', op: false }, { text: '', op: false }, { text: 'a "q" b', op: false }, { text: '2>&1', op: false },
    ]);
    expect(() => tokenize(`x "open`)).toThrow(/unterminated "/);
  });

  it('parses pipelines, not, prefixes, fixtures and continuations', () => {
    const runs = parseRunLines([
      '// RUN: lutra opt %s --passes "" | filecheck %s',
      '// RUN: not lutra opt %s --passes nope 2>&1 \\',
      '// RUN:   | filecheck %s --check-prefix=ERR --check-prefixes A,B',
      '// RUN: lutra inspect %s --ir | compare-fixture %s.expected',
      '// RUN: lutra opt %s --passes ""',
    ].join('\n'));
    expect(runs.map((r) => [r.line, r.negate, r.mergeStderr, r.argv, r.sink])).toEqual([
      [1, false, false, ['opt', '%s', '--passes', ''], { kind: 'filecheck', prefixes: ['CHECK'] }],
      [2, true, true, ['opt', '%s', '--passes', 'nope'], { kind: 'filecheck', prefixes: ['ERR', 'A', 'B'] }],
      [4, false, false, ['inspect', '%s', '--ir'], { kind: 'fixture', path: '%s.expected' }],
      [5, false, false, ['opt', '%s', '--passes', ''], { kind: 'none' }],
    ]);
  });

  it('rejects RUN lines it cannot run', () => {
    expect(() => parseRunLines('// RUN: cat %s | filecheck %s')).toThrow(/runs 'lutra'/);
    expect(() => parseRunLines('// RUN: lutra x | grep y')).toThrow(/ends in 'filecheck %s'/);
    expect(() => parseRunLines('// RUN: lutra x | filecheck other.lir')).toThrow(/check against %s/);
    expect(() => parseRunLines('// RUN: lutra x | filecheck %s --dump-input')).toThrow(/unknown filecheck option '--dump-input'/);
    expect(() => parseRunLines('// RUN: lutra x | filecheck %s | filecheck %s')).toThrow(/at most one pipe/);
    expect(() => parseRunLines('// RUN: lutra x \\\nfoo')).toThrow(/next line is not a RUN line/);
  });
});

describe('lit: chunks and expected errors', () => {
  it('splits at // ----- keeping line numbers', () => {
    const chunks = splitChunks('a\nb\n// -----\nc\n  //   -----  \nd');
    expect(chunks.map((c) => [c.first, c.last])).toEqual([[1, 2], [4, 4], [6, 6]]);
    expect(chunks[1]!.text).toBe('\n\n\nc\n\n');
  });

  it('parses expected-error with offsets', () => {
    const e = expectedErrors('x // expected-error {{bad.*}}\n// expected-error@+1 {{a}}\n// expected-error@-1 {{b}}\n// expected-error@unknown {{c}}');
    expect(e.map((x) => [x.at, x.line, x.pattern.source])).toEqual([[1, 1, 'bad.*'], [2, 3, 'a'], [3, 2, 'b'], [4, undefined, 'c']]);
    expect(() => expectedErrors('// expected-error oops')).toThrow(/line 1: expected-error needs a message pattern/);
    expect(() => expectedErrors('// expected-error {{(}}')).toThrow(/invalid expected-error regex/);
  });
});

describe('lit: running files', () => {
  it('runs each chunk, joins outputs with // ----- and FileChecks the whole file', async () => {
    calls.length = 0;
    await ok(file([
      '// RUN: lutra echo-graphs %s | filecheck %s',
      '// CHECK: graph @a',
      '// CHECK-NEXT: // -----',
      '// CHECK-NEXT: graph @b',
      'graph @a',
      '// -----',
      'graph @b',
    ].join('\n')));
    expect(calls).toHaveLength(2);
    expect(calls[0]![1]).toMatch(/chunk0[/\\]t\d+\.lir$/);
  });

  it('reports a FileCheck failure with the RUN line and the numbered output', async () => {
    const m = await fails(file('// RUN: lutra echo-graphs %s | filecheck %s\n// CHECK: graph @zzz\ngraph @a\n'));
    expect(m).toMatch(/t\d+\.lir:1: RUN: lutra echo-graphs %s \| filecheck %s/);
    expect(m).toMatch(/t\d+\.lir:2:11: error: CHECK: expected string not found in input/);
    expect(m).toContain('<lutra output>:1:1: note: scanning from here');
    expect(m).toContain('    1 | graph @a');
  });

  it('uses the --check-prefix of the RUN line', async () => {
    await ok(file('// RUN: lutra echo-graphs %s | filecheck %s --check-prefix=ONE\n// ONE: graph @a\n// CHECK: never\ngraph @a\n'));
  });

  it('2>&1 sends stderr into the pipe', async () => {
    await ok(file('// RUN: lutra echo-graphs %s 2>&1 | filecheck %s\n// CHECK: log line\ngraph @a\n'));
    expect(await fails(file('// RUN: lutra echo-graphs %s | filecheck %s\n// CHECK: log line\ngraph @a\n'))).toContain('expected string not found');
  });

  it('fails when lutra fails unexpectedly, showing stderr', async () => {
    const m = await fails(file('// RUN: lutra fail-at %s boom\nboom\n'));
    expect(m).toContain('lutra failed, got exit code 1');
    expect(m).toMatch(/--- stderr ---\nlutra: error: .*t\d+\.lir:2:3: bad thing in boom/);
  });

  it('`not lutra` requires every chunk to fail with exit code 1', async () => {
    await ok(file('// RUN: not lutra fail-at %s boom 2>&1 | filecheck %s\n// CHECK: bad thing in boom\nboom\n'));
    expect(await fails(file('// RUN: not lutra fail-at %s boom\nfine\n'))).toContain('expected lutra to fail with exit code 1, got exit code 0');
    expect(await fails(file('// RUN: not lutra crash %s\n'))).toContain('got exit code 2');
  });

  it('maps the temp chunk path in diagnostics back to the test file', async () => {
    const p = file('// RUN: not lutra fail-at %s boom 2>&1 | filecheck %s\n// CHECK: {{^}}lutra: error: [[FILE:.*]]named.lir:3:3: bad\nboom\n', 'named.lir');
    await ok(p);
  });

  it('checks expected-error message and line, per chunk', async () => {
    await ok(file([
      '// RUN: lutra fail-at %s boom | filecheck %s',
      '// CHECK: fine',
      'ok',
      '// -----',
      '// expected-error@+1 {{bad thing in b.*m}}',
      'boom',
      '// -----',
      'boom // expected-error {{bad}}',
    ].join('\n')));
  });

  it('fails when the expected-error line, message or existence is wrong', async () => {
    const wrongLine = await fails(file('// RUN: lutra fail-at %s boom\n// expected-error@+2 {{bad}}\nboom\n'));
    expect(wrongLine).toContain('expected-error at line 2: diagnostic is at line 3, expected line 4');
    const wrongMsg = await fails(file('// RUN: lutra fail-at %s boom\n// expected-error@+1 {{good}}\nboom\n'));
    expect(wrongMsg).toContain('expected-error at line 2: diagnostic does not match /good/');
    const none = await fails(file('// RUN: lutra fail-at %s boom\n// expected-error@+1 {{bad}}\nfine\n'));
    expect(none).toContain('lutra succeeded, expected an error matching /bad/');
    const crash = await fails(file('// RUN: lutra crash %s\n// expected-error@unknown {{x}}\n'));
    expect(crash).toContain('did not report a diagnostic (exit 2)');
    const two = await fails(file('// RUN: lutra fail-at %s boom\n// expected-error {{a}}\n// expected-error {{b}}\n'));
    expect(two).toContain('only one expected-error per chunk');
  });

  it('a file without RUN lines is loaded and verified (lutra opt %s --passes "")', async () => {
    calls.length = 0;
    await runLitFile(file('graph @a\n'), { lutra: fake });
    expect(calls[0]!.slice(0, 1).concat(calls[0]!.slice(2))).toEqual(['opt', '--passes', '']);
  });

  it('reports malformed test files as failures', async () => {
    expect(await fails(file('// RUN: lutra x | grep y\n'))).toMatch(/t\d+\.lir: a RUN pipeline ends in 'filecheck %s'/);
  });
});

describe('lit: fixtures', () => {
  const src = () => file('// RUN: lutra echo-graphs %s | compare-fixture %s.expected\ngraph @a\n// -----\ngraph @b\n');

  it('fails with a hint when the fixture is missing, writes it in update mode, then passes', async () => {
    const p = src();
    expect(await fails(p)).toMatch(/fixture .*\.lir\.expected does not exist; create it with LUTRA_UPDATE_FIXTURES=1/);
    await runLitFile(p, { lutra: fake, update: true });
    expect(readFileSync(`${p}.expected`, 'utf8')).toBe('graph @a\n// -----\ngraph @b\n');
    await ok(p);
  });

  it('shows a diff on mismatch', async () => {
    const p = src();
    writeFileSync(`${p}.expected`, 'graph @a\n// -----\ngraph @c\n');
    const m = await fails(p);
    expect(m).toContain('output differs from fixture');
    expect(m).toContain('-graph @c\n+graph @b');
  });
});

describe('lineDiff', () => {
  it('shows removed and added lines with context', () => {
    const d = lineDiff('a\nb\nc\nd\ne\nf\ng', 'a\nb\nc\nD\ne\nf\ng\nh');
    expect(d).toBe('@@ line 1 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n+h');
  });
});

describe('discoverLitFiles', () => {
  it('finds .lir files recursively, sorted, skipping Inputs/', () => {
    const root = join(dir, 'tree');
    mkdirSync(join(root, 'b', 'Inputs'), { recursive: true });
    mkdirSync(join(root, 'a'), { recursive: true });
    for (const p of ['b/y.lir', 'b/Inputs/helper.lir', 'a/x.lir', 'a/notes.md']) writeFileSync(join(root, p), '');
    expect(discoverLitFiles([root, join(dir, 'missing')]).map((p) => p.slice(root.length + 1))).toEqual(['a/x.lir', 'b/y.lir']);
    expect(existsSync(join(root, 'b/Inputs/helper.lir'))).toBe(true);
  });
});
