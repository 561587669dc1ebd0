/**
 * @fileoverview A small lit: runs `.lir` golden tests. Each file's `// RUN:` lines are pipelines
 * `[not] lutra <args> [2>&1] [| filecheck %s [--check-prefix=P] | compare-fixture <path>]`.
 * The file is split into chunks at `// -----` lines; lutra runs in-process once per chunk on a
 * copy of the chunk whose other lines are blank (so line numbers stay those of the file), the
 * outputs are joined with `// -----` lines and checked with FileCheck against the whole file.
 * `// expected-error {{regex}}` (with `@+N`, `@-N`, `@unknown`) asserts the chunk's diagnostic
 * and its line, like MLIR's -verify-diagnostics.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileCheck } from './filecheck.js';

/** Runs lutra in-process (the CLI's `main`); resolves to the exit code. */
export type LutraRunner = (argv: readonly string[], io: { stdout(s: string): void; stderr(s: string): void }) => Promise<number>;

/** Where a RUN pipeline's stdout goes. */
export type Sink =
  | { readonly kind: 'filecheck'; readonly prefixes: readonly string[] }
  | { readonly kind: 'fixture'; readonly path: string }
  | { readonly kind: 'none' };

/** One `// RUN:` pipeline (continuation lines joined). */
export interface RunLine {
  /** 1-based line of the `RUN:` in the file. */
  readonly line: number;
  readonly text: string;
  /** `not lutra ...`: every chunk must fail. */
  readonly negate: boolean;
  /** lutra's arguments, before `%s` / `%S` / `%t` substitution. */
  readonly argv: readonly string[];
  /** `2>&1`: stderr goes into the pipe too. */
  readonly mergeStderr: boolean;
  readonly sink: Sink;
}

/** A `// -----`-separated part of the file. */
export interface Chunk {
  /** The file's text with every line outside this chunk blanked (line numbers preserved). */
  readonly text: string;
  /** 1-based first and last line of the chunk. */
  readonly first: number;
  readonly last: number;
}

/** An `// expected-error` annotation. */
export interface ExpectedError {
  /** Line the annotation is written on. */
  readonly at: number;
  /** Line the diagnostic must point at; undefined for `@unknown` (no location checked). */
  readonly line: number | undefined;
  readonly pattern: RegExp;
}

/** A malformed test file (bad RUN line or annotation): reported as a test failure. */
export class LitError extends Error {
  override name = 'LitError';
}

/** Result of one test file. */
export type LitResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

const RUN = /^\s*\/\/\s*RUN:\s?(.*)$/;
const SPLIT = /^\s*\/\/\s*-----\s*$/;
const EXPECTED = /\/\/\s*expected-error(?:@([+-]\d+|unknown))?\s*(.*)$/;

/** A shell word, or an operator (`|`, `2>&1`) when written unquoted. */
export interface Token {
  readonly text: string;
  readonly op: boolean;
}

/** Shell-like words: whitespace-separated, '…' literal, "…" with \" and \\ escapes. */
export function tokenize(command: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < command.length) {
    const c = command[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '|') { out.push({ text: '|', op: true }); i++; continue; }
    let word = '';
    let quoted = false;
    while (i < command.length && !/\s/.test(command[i]!) && command[i] !== '|') {
      const ch = command[i]!;
      if (ch === "'") {
        const end = command.indexOf("'", i + 1);
        if (end < 0) throw new LitError(`unterminated ' in: ${command}`);
        word += command.slice(i + 1, end);
        i = end + 1;
        quoted = true;
      } else if (ch === '"') {
        i++;
        while (i < command.length && command[i] !== '"') {
          if (command[i] === '\\' && (command[i + 1] === '"' || command[i + 1] === '\\')) i++;
          word += command[i++];
        }
        if (i >= command.length) throw new LitError(`unterminated " in: ${command}`);
        i++;
        quoted = true;
      } else {
        word += ch;
        i++;
      }
    }
    out.push({ text: word, op: !quoted && word === '2>&1' });
  }
  return out;
}

function parseSink(words: string[], text: string): Sink {
  const [cmd, ...args] = words;
  if (cmd === 'filecheck' || cmd === 'FileCheck') {
    if (args[0] !== '%s') throw new LitError(`filecheck must check against %s (this file): ${text}`);
    const prefixes: string[] = [];
    for (let k = 1; k < args.length; k++) {
      const a = args[k]!;
      const m = /^--check-prefix(es)?(?:=(.*))?$/.exec(a);
      if (!m) throw new LitError(`unknown filecheck option '${a}' (supported: --check-prefix=P, --check-prefixes=A,B): ${text}`);
      const v = m[2] ?? args[++k];
      if (v === undefined) throw new LitError(`${a} needs a value: ${text}`);
      prefixes.push(...(m[1] ? v.split(',') : [v]));
    }
    return { kind: 'filecheck', prefixes: prefixes.length ? prefixes : ['CHECK'] };
  }
  if (cmd === 'compare-fixture') {
    if (args.length !== 1) throw new LitError(`compare-fixture takes one path: ${text}`);
    return { kind: 'fixture', path: args[0]! };
  }
  throw new LitError(`a RUN pipeline ends in 'filecheck %s' or 'compare-fixture <path>', not '${cmd ?? ''}': ${text}`);
}

/** Parse the `// RUN:` lines of a test file; a line ending in `\` continues on the next RUN line. */
export function parseRunLines(text: string): RunLine[] {
  const out: RunLine[] = [];
  let pending: { line: number; text: string } | undefined;
  text.split('\n').forEach((l, i) => {
    const m = RUN.exec(l);
    if (!m) {
      if (pending) throw new LitError(`line ${pending.line}: RUN line ends in '\\' but the next line is not a RUN line`);
      return;
    }
    const part = m[1]!.trimEnd();
    const cur = pending ? { line: pending.line, text: `${pending.text} ${part.trimStart()}` } : { line: i + 1, text: part };
    if (cur.text.endsWith('\\')) { pending = { line: cur.line, text: cur.text.slice(0, -1).trimEnd() }; return; }
    pending = undefined;
    out.push(parseRun(cur.line, cur.text));
  });
  if (pending) throw new LitError(`line ${pending.line}: RUN line ends in '\\' at the end of the file`);
  return out;
}

function parseRun(line: number, text: string): RunLine {
  const stages: Token[][] = [[]];
  for (const t of tokenize(text)) {
    if (t.op && t.text === '|') stages.push([]);
    else stages[stages.length - 1]!.push(t);
  }
  if (stages.length > 2) throw new LitError(`line ${line}: at most one pipe is supported: ${text}`);
  const first = stages[0]!;
  const negate = first[0]?.text === 'not';
  if (negate) first.shift();
  if (first[0]?.text !== 'lutra') throw new LitError(`line ${line}: a RUN line runs 'lutra' (or 'not lutra'), not '${first[0]?.text ?? ''}': ${text}`);
  const mergeStderr = first.some((t) => t.op);
  const argv = first.slice(1).filter((t) => !t.op).map((t) => t.text);
  const sink = stages[1] ? parseSink(stages[1].map((t) => t.text), text) : { kind: 'none' as const };
  return { line, text, negate, argv, mergeStderr, sink };
}

/** Split a file at `// -----` lines; each chunk keeps the file's line numbers. */
export function splitChunks(text: string): Chunk[] {
  const lines = text.split('\n');
  const bounds: [number, number][] = [];
  let start = 0;
  lines.forEach((l, i) => {
    if (SPLIT.test(l)) { bounds.push([start, i - 1]); start = i + 1; }
  });
  bounds.push([start, lines.length - 1]);
  return bounds.map(([a, b]) => ({
    text: lines.map((l, i) => (i >= a && i <= b ? l : '')).join('\n'),
    first: a + 1,
    last: b + 1,
  }));
}

/** The `// expected-error` annotations within lines [first, last] of `text`. */
export function expectedErrors(text: string, first = 1, last = Infinity): ExpectedError[] {
  const out: ExpectedError[] = [];
  text.split('\n').forEach((l, i) => {
    const at = i + 1;
    if (at < first || at > last) return;
    const m = EXPECTED.exec(l);
    if (!m) return;
    const body = /^\{\{(.*)\}\}\s*$/.exec(m[2]!);
    if (!body) throw new LitError(`line ${at}: expected-error needs a message pattern in {{...}}`);
    let pattern: RegExp;
    try {
      pattern = new RegExp(body[1]!);
    } catch (e) {
      throw new LitError(`line ${at}: invalid expected-error regex: ${(e as Error).message}`);
    }
    const off = m[1];
    out.push({ at, line: off === 'unknown' ? undefined : at + Number(off ?? 0), pattern });
  });
  return out;
}

const DIAG = /^lutra: error: (.*)$/m;
const LOCATED = /^(.*?):(\d+):(\d+): (.*)$/;

/** Check a chunk's diagnostic against its expected-error; undefined when it matches. */
function checkDiagnostic(exp: ExpectedError, code: number, stderr: string): string | undefined {
  const where = `expected-error at line ${exp.at}`;
  if (code === 0) return `${where}: lutra succeeded, expected an error matching /${exp.pattern.source}/`;
  const d = DIAG.exec(stderr);
  if (code !== 1 || !d) return `${where}: lutra did not report a diagnostic (exit ${code}):\n${stderr}`;
  const msg = d[1]!;
  if (exp.line === undefined) return exp.pattern.test(msg) ? undefined : `${where}: diagnostic does not match /${exp.pattern.source}/:\n  ${msg}`;
  const loc = LOCATED.exec(msg);
  if (!loc) return `${where}: diagnostic has no file:line:col location (use expected-error@unknown):\n  ${msg}`;
  if (Number(loc[2]) !== exp.line) return `${where}: diagnostic is at line ${loc[2]}, expected line ${exp.line}:\n  ${msg}`;
  return exp.pattern.test(loc[4]!) ? undefined : `${where}: diagnostic does not match /${exp.pattern.source}/:\n  ${msg}`;
}

/** Unified-style line diff of `expected` → `actual` with 3 lines of context around changes. */
export function lineDiff(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const ops: string[] = [];
  if (am.length * bm.length > 4_000_000) {
    ops.push(...am.map((l) => `-${l}`), ...bm.map((l) => `+${l}`));
  } else {
    // LCS table over the differing middle, then walk it.
    const lcs = Array.from({ length: am.length + 1 }, () => new Uint32Array(bm.length + 1));
    for (let i = am.length - 1; i >= 0; i--) {
      for (let j = bm.length - 1; j >= 0; j--) lcs[i]![j] = am[i] === bm[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
    let i = 0;
    let j = 0;
    while (i < am.length || j < bm.length) {
      if (i < am.length && j < bm.length && am[i] === bm[j]) { ops.push(` ${am[i]}`); i++; j++; } else if (i < am.length && (j >= bm.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) { ops.push(`-${am[i]}`); i++; } else { ops.push(`+${bm[j]}`); j++; }
    }
  }
  const ctx = a.slice(Math.max(0, pre - 3), pre).map((l) => ` ${l}`);
  const after = a.slice(a.length - suf, Math.min(a.length, a.length - suf + 3)).map((l) => ` ${l}`);
  return [`@@ line ${Math.max(1, pre - 2)} @@`, ...ctx, ...ops, ...after].join('\n');
}

/** `   12 | text` numbered lines (at most `max`), for failure reports. */
function numbered(text: string, max = 200): string {
  const lines = text.split('\n');
  const shown = lines.slice(0, max).map((l, i) => `${String(i + 1).padStart(5)} | ${l}`);
  if (lines.length > max) shown.push(`      … ${lines.length - max} more lines`);
  return shown.join('\n');
}

export interface LitOptions {
  /** Rewrite `compare-fixture` files instead of comparing (LUTRA_UPDATE_FIXTURES=1). */
  readonly update?: boolean;
  /** The lutra to run (default: the CLI's main, in-process). */
  readonly lutra?: LutraRunner;
}

async function defaultLutra(): Promise<LutraRunner> {
  const { main } = await import('../cli/main.js');
  return main;
}

/** What a `.lir` file without RUN lines is checked with: it must load and verify. */
export const DEFAULT_RUN = 'lutra opt %s --passes ""';

/** Run one test file; the result's message says which RUN line, chunk and check failed. */
export async function runLitFile(file: string, opts: LitOptions = {}): Promise<LitResult> {
  const abs = resolve(file);
  const shown = relative(process.cwd(), abs).startsWith('..') ? abs : relative(process.cwd(), abs);
  const text = readFileSync(abs, 'utf8');
  const tmp = mkdtempSync(join(tmpdir(), 'lutra-lit-'));
  try {
    const runs = parseRunLines(text);
    const chunks = splitChunks(text);
    const lutra = opts.lutra ?? await defaultLutra();
    const plan = runs.length ? runs : [parseRun(0, DEFAULT_RUN)];
    const failures: string[] = [];
    for (const r of plan) {
      const err = await runOne(r, { abs, shown, text, chunks, tmp, lutra, update: opts.update === true });
      const head = r.line ? `${shown}:${r.line}: RUN: ${r.text}` : `${shown}: (no RUN line, default) ${r.text}`;
      if (err) failures.push(`${head}\n${err}`);
    }
    return failures.length ? { ok: false, message: failures.join('\n\n') } : { ok: true };
  } catch (e) {
    if (e instanceof LitError) return { ok: false, message: `${shown}: ${e.message}` };
    throw e;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

interface RunCtx {
  readonly abs: string;
  readonly shown: string;
  readonly text: string;
  readonly chunks: readonly Chunk[];
  readonly tmp: string;
  readonly lutra: LutraRunner;
  readonly update: boolean;
}

/** Run one RUN pipeline over every chunk; returns the failure report or undefined. */
async function runOne(r: RunLine, c: RunCtx): Promise<string | undefined> {
  const outputs: string[] = [];
  for (let k = 0; k < c.chunks.length; k++) {
    const chunk = c.chunks[k]!;
    const dir = join(c.tmp, `chunk${k}`);
    mkdirSync(dir, { recursive: true });
    const input = join(dir, basename(c.abs));
    writeFileSync(input, chunk.text);
    const subst = (w: string) => w.replaceAll('%s', input).replaceAll('%S', dirname(c.abs)).replaceAll('%t', join(dir, 't'));
    const argv = r.argv.map(subst);
    let stdout = '';
    let stderr = '';
    const code = await c.lutra(argv, {
      stdout: (s) => { stdout += s; },
      stderr: (s) => { stderr += s; if (r.mergeStderr) stdout += s; },
    });
    const unTmp = (s: string) => s.replaceAll(input, c.shown);
    stdout = unTmp(stdout);
    stderr = unTmp(stderr);
    const where = c.chunks.length > 1 ? `chunk ${k + 1} (lines ${chunk.first}-${chunk.last})` : 'the file';
    const exps = expectedErrors(c.text, chunk.first, chunk.last);
    if (exps.length > 1) throw new LitError(`lines ${exps.map((e) => e.at).join(', ')}: only one expected-error per chunk (lutra stops at the first error); split the chunk with // -----`);
    if (exps[0]) {
      const bad = checkDiagnostic(exps[0], code, stderr);
      if (bad) return `${where}: ${bad}`;
    } else if (r.negate ? code !== 1 : code !== 0) {
      const want = r.negate ? 'expected lutra to fail with exit code 1' : 'lutra failed';
      return `${where}: ${want}, got exit code ${code}\n--- stderr ---\n${stderr}--- stdout ---\n${stdout}`;
    }
    outputs.push(stdout.length && !stdout.endsWith('\n') ? `${stdout}\n` : stdout);
  }
  const output = outputs.join('// -----\n');
  if (r.sink.kind === 'filecheck') {
    const res = fileCheck(c.text, output, { prefixes: r.sink.prefixes, checkFile: c.shown, inputName: '<lutra output>' });
    return res.ok ? undefined : `${res.message}\n\nInput was (<lutra output>):\n${numbered(output)}`;
  }
  if (r.sink.kind === 'fixture') {
    const p = r.sink.path.replaceAll('%s', c.abs).replaceAll('%S', dirname(c.abs));
    const fixture = isAbsolute(p) ? p : join(dirname(c.abs), p);
    if (c.update) {
      writeFileSync(fixture, output);
      return undefined;
    }
    if (!existsSync(fixture)) return `fixture ${relative(process.cwd(), fixture)} does not exist; create it with LUTRA_UPDATE_FIXTURES=1`;
    const want = readFileSync(fixture, 'utf8');
    if (want === output) return undefined;
    return `output differs from fixture ${relative(process.cwd(), fixture)} (regenerate with LUTRA_UPDATE_FIXTURES=1 and review the diff):\n${lineDiff(want, output)}`;
  }
  return undefined;
}

/** Every `.lir` test under `roots` (sorted; `Inputs/` folders hold helper files and are skipped). */
export function discoverLitFiles(roots: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      if (e === 'node_modules' || e === 'Inputs' || e.startsWith('.')) continue;
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e.endsWith('.lir')) out.push(p);
    }
  };
  for (const r of roots) if (existsSync(r)) walk(r);
  return out;
}
