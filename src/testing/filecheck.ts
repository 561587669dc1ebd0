/**
 * @fileoverview FileCheck, as in LLVM: match `CHECK` directives from a check file against the
 * text a command printed. Supports CHECK, -NEXT, -SAME, -NOT, -DAG, -LABEL, -EMPTY,
 * `{{regex}}`, `[[NAME:regex]]` definitions, `[[NAME]]` uses and custom prefixes. Failures are
 * reported like LLVM's: the directive and its line in the check file, then where the input was
 * scanned.
 */

/** The directive kinds, by suffix after the prefix (`CHECK-NEXT` → 'next'). */
export type DirectiveKind = 'plain' | 'next' | 'same' | 'not' | 'dag' | 'label' | 'empty';

/** One directive parsed from the check file. */
export interface Directive {
  readonly kind: DirectiveKind;
  /** The directive as written, e.g. `CHECK-NEXT`. */
  readonly name: string;
  /** Pattern text after the colon, trimmed. */
  readonly pattern: string;
  /** 1-based line and column (of the pattern) in the check file. */
  readonly line: number;
  readonly col: number;
  /** The full check-file line, for error messages. */
  readonly source: string;
}

export interface FileCheckOptions {
  /** Directive prefixes (default `['CHECK']`), like `--check-prefixes`. */
  readonly prefixes?: readonly string[];
  /** Name of the check file in messages. */
  readonly checkFile?: string;
  /** Name of the input in messages (default `<stdin>`). */
  readonly inputName?: string;
}

/** ok, or the LLVM-style error report (several blocks when CHECK-LABELs split the input). */
export type FileCheckResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

const SUFFIXES: Record<string, DirectiveKind> = {
  '': 'plain', '-NEXT': 'next', '-SAME': 'same', '-NOT': 'not', '-DAG': 'dag', '-LABEL': 'label', '-EMPTY': 'empty',
};

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Parse the directives of `checkText`; throws a CheckFileError for malformed ones. */
export function parseDirectives(checkText: string, opts: FileCheckOptions = {}): Directive[] {
  const prefixes = opts.prefixes ?? ['CHECK'];
  const file = opts.checkFile ?? '<check>';
  for (const p of prefixes) {
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(p)) throw new CheckFileError(`${file}: invalid check prefix '${p}'`);
  }
  const alt = prefixes.map(escapeRegex).join('|');
  const re = new RegExp(`(?<![A-Za-z0-9_-])(${alt})(-NEXT|-SAME|-NOT|-DAG|-LABEL|-EMPTY|)(:)`);
  const misspelled = new RegExp(`(?<![A-Za-z0-9_-])(${alt})(-[A-Z]+):`);
  const out: Directive[] = [];
  checkText.split('\n').forEach((source, i) => {
    const m = re.exec(source);
    if (!m) {
      const bad = misspelled.exec(source);
      if (bad) {
        const d: Directive = { kind: 'plain', name: bad[0].slice(0, -1), pattern: '', line: i + 1, col: bad.index + 1, source };
        throw directiveError(file, d, `unsupported directive '${d.name}:'`);
      }
      return;
    }
    const kind = SUFFIXES[m[2]!]!;
    const name = `${m[1]}${m[2]}`;
    const after = m.index + m[0].length;
    const raw = source.slice(after);
    const pattern = raw.trim();
    const col = after + (raw.length - raw.trimStart().length) + 1;
    const d: Directive = { kind, name, pattern, line: i + 1, col, source };
    if (kind === 'empty' && pattern !== '') throw directiveError(file, d, `found non-empty check string for empty check with prefix '${name}:'`);
    if (kind !== 'empty' && pattern === '') throw directiveError(file, d, `found empty check string with prefix '${name}:'`);
    if (kind === 'label' && /\[\[/.test(pattern)) throw directiveError(file, d, `'${name}' cannot use or define variables`);
    if ((kind === 'next' || kind === 'same' || kind === 'empty') && !out.some((o) => o.kind !== 'not')) {
      throw directiveError(file, d, `found '${name}' without previous '${prefixes[0]}: line`);
    }
    out.push(d);
  });
  if (!out.some((d) => d.kind !== 'not')) {
    throw new CheckFileError(`${file}: error: no check strings found with prefix${prefixes.length > 1 ? 'es' : ''} ${prefixes.map((p) => `'${p}:'`).join(', ')}`);
  }
  return out;
}

/** A malformed check file (as opposed to input that does not match). */
export class CheckFileError extends Error {
  override name = 'CheckFileError';
}

function directiveError(file: string, d: Directive, message: string): CheckFileError {
  return new CheckFileError(`${file}:${d.line}:${d.col}: error: ${message}\n${d.source}\n${' '.repeat(d.col - 1)}^`);
}

/** A pattern compiled to a regex, with the variables it defines (named groups) in order. */
interface Compiled {
  readonly re: RegExp;
  readonly defines: readonly string[];
}

const VAR_NAME = /^\$?[A-Za-z_][A-Za-z0-9_]*$/;
/** `$` is not allowed in group names: map `$X` → `G_X`, others → `V_X`. */
const groupName = (v: string): string => (v.startsWith('$') ? `G_${v.slice(1)}` : `V_${v}`);

/** Compile a pattern with the current variable bindings; throws CheckFileError for bad syntax. */
function compile(d: Directive, vars: ReadonlyMap<string, string>, file: string): Compiled {
  const p = d.pattern;
  let src = '';
  const defines: string[] = [];
  let i = 0;
  const literal = (s: string) => {
    src += s.split(/[ \t]+/).map(escapeRegex).join('[ \\t]+');
  };
  while (i < p.length) {
    const nextRe = p.indexOf('{{', i);
    const nextVar = p.indexOf('[[', i);
    const cands = [nextRe, nextVar].filter((x) => x >= 0);
    if (cands.length === 0) { literal(p.slice(i)); break; }
    const at = Math.min(...cands);
    literal(p.slice(i, at));
    if (at === nextRe) {
      const end = p.indexOf('}}', at + 2);
      if (end < 0) throw directiveError(file, d, `found start of regex string with no end '}}'`);
      const body = p.slice(at + 2, end);
      try { new RegExp(body); } catch (e) { throw directiveError(file, d, `invalid regex '${body}': ${(e as Error).message}`); }
      src += `(?:${body})`;
      i = end + 2;
      continue;
    }
    const end = p.indexOf(']]', at + 2);
    if (end < 0) throw directiveError(file, d, `invalid variable reference: no closing ']]'`);
    const body = p.slice(at + 2, end);
    const colon = body.indexOf(':');
    const name = colon < 0 ? body : body.slice(0, colon);
    if (!VAR_NAME.test(name)) throw directiveError(file, d, `invalid variable name '${name}'`);
    if (colon >= 0) {
      const rx = body.slice(colon + 1);
      try { new RegExp(rx); } catch (e) { throw directiveError(file, d, `invalid regex '${rx}' for variable '${name}': ${(e as Error).message}`); }
      if (defines.includes(name)) throw directiveError(file, d, `variable '${name}' is defined twice in one pattern`);
      src += `(?<${groupName(name)}>${rx})`;
      defines.push(name);
    } else if (defines.includes(name)) {
      src += `\\k<${groupName(name)}>`;
    } else {
      const v = vars.get(name);
      if (v === undefined) throw new UndefinedVariable(name);
      src += escapeRegex(v);
    }
    i = end + 2;
  }
  return { re: new RegExp(src, 'gm'), defines };
}

class UndefinedVariable extends Error {
  constructor(readonly variable: string) {
    super(`undefined variable: ${variable}`);
  }
}

interface Match {
  readonly start: number;
  readonly end: number;
  readonly groups: Record<string, string>;
}

/** First match of `c` in input[from, to) not overlapping any range in `avoid`. */
function search(c: Compiled, input: string, from: number, to: number, avoid: readonly Match[] = []): Match | undefined {
  const hay = input.slice(0, to);
  let at = from;
  while (at <= hay.length) {
    c.re.lastIndex = at;
    const m = c.re.exec(hay);
    if (!m) return undefined;
    const start = m.index;
    const end = start + m[0].length;
    const clash = avoid.find((a) => (start < a.end && a.start < end) || (start === end && start >= a.start && start < a.end));
    if (!clash) return { start, end, groups: m.groups ?? {} };
    at = clash.end > start ? clash.end : start + 1;
  }
  return undefined;
}

/** Line/col (1-based) of offset `pos` in `text`. */
function lineCol(text: string, pos: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) { line++; lineStart = i + 1; }
  }
  return { line, col: pos - lineStart + 1 };
}

const countNewlines = (text: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
};

/** A match against the whole input, with variable bindings, checking all directives. */
class Checker {
  private readonly vars = new Map<string, string>();
  private readonly file: string;
  private readonly inputName: string;

  constructor(private readonly input: string, opts: FileCheckOptions) {
    this.file = opts.checkFile ?? '<check>';
    this.inputName = opts.inputName ?? '<stdin>';
  }

  /** `<file>:<l>:<c>: error: <name>: <msg>` with the check line and a caret. */
  private errorAt(d: Directive, msg: string): string {
    return `${this.file}:${d.line}:${d.col}: error: ${d.name}: ${msg}\n${d.source}\n${' '.repeat(d.col - 1)}^`;
  }

  /** An input location note: `<input>:<l>:<c>: note: <msg>` with the input line and a caret. */
  note(pos: number, msg: string, len = 1): string {
    const { line, col } = lineCol(this.input, pos);
    const lineStart = pos - (col - 1);
    const nl = this.input.indexOf('\n', lineStart);
    const text = this.input.slice(lineStart, nl < 0 ? undefined : nl);
    const span = Math.max(1, Math.min(len, text.length - (col - 1)));
    return `${this.inputName}:${line}:${col}: note: ${msg}\n${text}\n${' '.repeat(col - 1)}^${'~'.repeat(span - 1)}`;
  }

  private compileOrReport(d: Directive): Compiled | string {
    try {
      return compile(d, this.vars, this.file);
    } catch (e) {
      if (e instanceof UndefinedVariable) return this.errorAt(d, `uses undefined variable '${e.variable}'`);
      throw e;
    }
  }

  private bind(c: Compiled, m: Match): void {
    for (const v of c.defines) this.vars.set(v, m.groups[groupName(v)] ?? '');
  }

  /** Find a positive directive (CHECK/NEXT/SAME/EMPTY/LABEL) at or after `pos`, before `to`. */
  findPositive(d: Directive, pos: number, to: number): { match: Match } | { error: string } {
    if (d.kind === 'empty') {
      const nl = this.input.indexOf('\n', pos);
      const next = nl < 0 ? -1 : nl + 1;
      if (next < 0 || next >= to) return { error: `${this.errorAt(d, 'expected empty line not found')}\n${this.note(pos, 'scanning from here')}` };
      if (this.input[next] !== '\n') {
        return { error: `${this.errorAt(d, 'is not on the line after the previous match')}\n${this.note(next, "'next' line is not empty")}` };
      }
      return { match: { start: next, end: next, groups: {} } };
    }
    const c = this.compileOrReport(d);
    if (typeof c === 'string') return { error: c };
    const m = search(c, this.input, pos, to);
    if (!m) {
      return { error: `${this.errorAt(d, 'expected string not found in input')}\n${this.note(pos, 'scanning from here')}${this.possibleMatch(d, pos, to)}` };
    }
    const lines = countNewlines(this.input, pos, m.start);
    if (d.kind === 'next' && lines !== 1) {
      const what = lines === 0 ? 'is on the same line as previous match' : 'is not on the line after the previous match';
      return { error: `${this.errorAt(d, what)}\n${this.note(m.start, "'next' match was here", m.end - m.start)}\n${this.note(Math.max(0, pos - 1), 'previous match ended here')}` };
    }
    if (d.kind === 'same' && lines !== 0) {
      return { error: `${this.errorAt(d, 'is not on the same line as the previous match')}\n${this.note(m.start, "'next' match was here", m.end - m.start)}\n${this.note(Math.max(0, pos - 1), 'previous match ended here')}` };
    }
    this.bind(c, m);
    return { match: m };
  }

  /** A hint: the input line in range sharing the longest literal prefix with the pattern. */
  private possibleMatch(d: Directive, from: number, to: number): string {
    const lit = d.pattern.split(/\{\{|\[\[/)[0]!.trim();
    if (lit.length < 3) return '';
    let best = -1;
    let bestLen = 0;
    const region = this.input.slice(from, to);
    let lineStart = 0;
    for (const line of region.split('\n')) {
      const t = line.trimStart();
      let k = 0;
      while (k < t.length && k < lit.length && t[k] === lit[k]) k++;
      if (k > bestLen && k >= Math.min(lit.length, 3)) { bestLen = k; best = from + lineStart + (line.length - t.length); }
      lineStart += line.length + 1;
    }
    return best < 0 ? '' : `\n${this.note(best, 'possible intended match here')}`;
  }

  /** Check that no NOT directive matches in [from, to). */
  checkNots(nots: readonly Directive[], from: number, to: number): string | undefined {
    for (const d of nots) {
      const c = this.compileOrReport(d);
      if (typeof c === 'string') return c;
      const m = search(c, this.input, from, to);
      if (m) return `${this.errorAt(d, 'excluded string found in input')}\n${this.note(m.start, 'found here', m.end - m.start)}`;
    }
    return undefined;
  }

  /** Match a group of DAG directives in any order, without overlap, in [from, to). */
  matchDag(group: readonly Directive[], from: number, to: number): { matches: Match[] } | { error: string } {
    const matches: Match[] = [];
    for (const d of group) {
      const c = this.compileOrReport(d);
      if (typeof c === 'string') return { error: c };
      const m = search(c, this.input, from, to, matches);
      if (!m) return { error: `${this.errorAt(d, 'expected string not found in input')}\n${this.note(from, 'scanning from here')}` };
      this.bind(c, m);
      matches.push(m);
    }
    return { matches };
  }

  /** Run the directives of one block against input[from, to); returns the first error. */
  checkBlock(ds: readonly Directive[], from: number, to: number): string | undefined {
    let pos = from;
    let nots: Directive[] = [];
    for (let i = 0; i < ds.length; i++) {
      const d = ds[i]!;
      if (d.kind === 'not') { nots.push(d); continue; }
      if (d.kind === 'dag') {
        const group = [d];
        while (ds[i + 1]?.kind === 'dag') group.push(ds[++i]!);
        const r = this.matchDag(group, pos, to);
        if ('error' in r) return r.error;
        const first = Math.min(...r.matches.map((m) => m.start));
        const err = this.checkNots(nots, pos, first);
        if (err) return err;
        nots = [];
        pos = Math.max(...r.matches.map((m) => m.end));
        continue;
      }
      const r = this.findPositive(d, pos, to);
      if ('error' in r) return r.error;
      const err = this.checkNots(nots, pos, r.match.start);
      if (err) return err;
      nots = [];
      pos = r.match.end;
    }
    return this.checkNots(nots, pos, to);
  }
}

/**
 * Match `input` against the directives in `checkText`. CHECK-LABEL lines first split the input
 * into blocks; each block is checked independently and every failing block is reported.
 */
export function fileCheck(checkText: string, input: string, opts: FileCheckOptions = {}): FileCheckResult {
  let directives: Directive[];
  try {
    directives = parseDirectives(checkText, opts);
  } catch (e) {
    if (e instanceof CheckFileError) return { ok: false, message: e.message };
    throw e;
  }
  const ck = new Checker(input, opts);
  try {
    return runBlocks(ck, directives, input);
  } catch (e) {
    if (e instanceof CheckFileError) return { ok: false, message: e.message };
    throw e;
  }
}

function runBlocks(ck: Checker, directives: readonly Directive[], input: string): FileCheckResult {
  // Blocks: directives before the first label, then each label with the directives after it.
  const blocks: { label?: Directive; body: Directive[] }[] = [{ body: [] }];
  for (const d of directives) {
    if (d.kind === 'label') blocks.push({ label: d, body: [] });
    else blocks[blocks.length - 1]!.body.push(d);
  }
  // Labels are matched first, in order; a missing label ends checking (later blocks cannot be placed).
  const starts: number[] = [0];
  const bodyStarts: number[] = [0];
  let pos = 0;
  for (const b of blocks.slice(1)) {
    const r = ck.findPositive(b.label!, pos, input.length);
    if ('error' in r) return { ok: false, message: r.error };
    starts.push(r.match.start);
    bodyStarts.push(r.match.end);
    pos = r.match.end;
  }
  const errors: string[] = [];
  blocks.forEach((b, k) => {
    if (k === 0 && b.body.length === 0) return;
    const end = k + 1 < blocks.length ? starts[k + 1]! : input.length;
    const err = ck.checkBlock(b.body, bodyStarts[k]!, end);
    if (err) errors.push(err);
  });
  return errors.length === 0 ? { ok: true } : { ok: false, message: errors.join('\n') };
}
