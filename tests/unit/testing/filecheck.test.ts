import { describe, expect, it } from 'vitest';
import { fileCheck, parseDirectives, type FileCheckOptions } from '../../../src/testing/filecheck.js';

const opts: FileCheckOptions = { checkFile: 't.lir', inputName: '<out>' };

/** The error message, failing the test when FileCheck passed. */
function failure(check: string, input: string, o: FileCheckOptions = opts): string {
  const r = fileCheck(check, input, o);
  if (r.ok) throw new Error('expected FileCheck to fail');
  return r.message;
}

const passes = (check: string, input: string, o: FileCheckOptions = opts) => expect(fileCheck(check, input, o)).toEqual({ ok: true });

describe('FileCheck: CHECK', () => {
  it('matches substrings in order', () => {
    passes('// CHECK: foo\n// CHECK: baz', 'a foo b\nbar\nbaz\n');
  });

  it('fails when the order is wrong, naming the directive, check line and scan position', () => {
    const m = failure('// CHECK: baz\n// CHECK: foo', 'foo\nbaz\n');
    expect(m).toContain('t.lir:2:11: error: CHECK: expected string not found in input');
    expect(m).toContain('// CHECK: foo\n          ^');
    expect(m).toContain('<out>:2:4: note: scanning from here');
  });

  it('allows two matches on one line', () => {
    passes('CHECK: a\nCHECK: b', 'a b\n');
  });

  it('treats runs of spaces in the pattern as any horizontal whitespace', () => {
    passes('CHECK: %0 = onnx.Relu(%x)', '  %0   =\tonnx.Relu(%x) : f32[2]\n');
    failure('CHECK: a b', 'ab\n');
  });

  it('escapes regex metacharacters in literal text', () => {
    passes('CHECK: f32[1,2] (x+y)*', 'f32[1,2] (x+y)*\n');
    failure('CHECK: a.c', 'abc\n');
  });

  it('suggests a possible intended match', () => {
    const m = failure('CHECK: onnx.Relu(%y)', 'x\n  onnx.Relu(%x)\n');
    expect(m).toContain('<out>:2:3: note: possible intended match here');
  });

  it('reports a file without directives', () => {
    expect(failure('// nothing here', 'x')).toContain("no check strings found with prefix 'CHECK:'");
    expect(failure('// CHECK-NOT: x', 'y')).toContain('no check strings found');
  });

  it('rejects an empty pattern and a misspelled directive', () => {
    expect(failure('CHECK:\n', 'x')).toContain("t.lir:1:7: error: found empty check string with prefix 'CHECK:'");
    expect(failure('CHECK: a\nCHECK-NXT: b', 'a\nb')).toContain("t.lir:2:1: error: unsupported directive 'CHECK-NXT:'");
  });

  it('does not take a longer word ending in the prefix as a directive', () => {
    passes('MYCHECK: nope\nCHECK: yes', 'yes');
  });
});

describe('FileCheck: CHECK-NEXT / CHECK-SAME / CHECK-EMPTY', () => {
  it('CHECK-NEXT requires the very next line', () => {
    passes('CHECK: a\nCHECK-NEXT: b', 'a\nb\n');
    const m = failure('CHECK: a\nCHECK-NEXT: c', 'a\nb\nc\n');
    expect(m).toContain('t.lir:2:13: error: CHECK-NEXT: is not on the line after the previous match');
    expect(m).toContain("<out>:3:1: note: 'next' match was here");
    expect(m).toContain('<out>:1:1: note: previous match ended here');
  });

  it('CHECK-NEXT fails on the same line', () => {
    expect(failure('CHECK: a\nCHECK-NEXT: b', 'a b\n')).toContain('CHECK-NEXT: is on the same line as previous match');
  });

  it('CHECK-SAME requires the same line', () => {
    passes('CHECK: graph\nCHECK-SAME: -> f32', 'graph @g(%x) -> f32[2] {\n');
    expect(failure('CHECK: graph\nCHECK-SAME: return', 'graph @g\nreturn\n')).toContain('CHECK-SAME: is not on the same line as the previous match');
  });

  it('CHECK-EMPTY requires an empty next line', () => {
    passes('CHECK: a\nCHECK-EMPTY:\nCHECK-NEXT: b', 'a\n\nb\n');
    expect(failure('CHECK: a\nCHECK-EMPTY:', 'a\nb\n')).toContain('CHECK-EMPTY: is not on the line after the previous match');
    expect(failure('CHECK: a\nCHECK-EMPTY:', 'a\n')).toContain('CHECK-EMPTY: expected empty line not found');
    expect(failure('CHECK: a\nCHECK-EMPTY: x', 'a\n\n')).toContain('found non-empty check string for empty check');
  });

  it('rejects CHECK-NEXT without a previous CHECK', () => {
    expect(failure('CHECK-NEXT: a', 'a')).toContain("found 'CHECK-NEXT' without previous 'CHECK: line");
  });
});

describe('FileCheck: CHECK-NOT', () => {
  it('passes when the string is absent between matches', () => {
    passes('CHECK: a\nCHECK-NOT: x\nCHECK: b', 'a\ny\nb\nx\n');
  });

  it('fails when the string occurs between matches', () => {
    const m = failure('CHECK: a\nCHECK-NOT: onnx.Relu\nCHECK: b', 'a\n%1 = onnx.Relu(%0)\nb\n');
    expect(m).toContain('t.lir:2:12: error: CHECK-NOT: excluded string found in input');
    expect(m).toContain('<out>:2:6: note: found here\n%1 = onnx.Relu(%0)\n     ^~~~~~~~~');
  });

  it('a trailing CHECK-NOT covers the rest of the input', () => {
    expect(failure('CHECK: a\nCHECK-NOT: z', 'a\nb\nz\n')).toContain('excluded string found');
  });

  it('a leading CHECK-NOT covers the input up to the first match', () => {
    expect(failure('CHECK-NOT: z\nCHECK: a', 'z\na\n')).toContain('excluded string found');
    passes('CHECK-NOT: z\nCHECK: a', 'a\nz\n');
  });
});

describe('FileCheck: CHECK-DAG', () => {
  it('matches a group in any order', () => {
    passes('CHECK-DAG: b\nCHECK-DAG: a\nCHECK: c', 'a\nb\nc\n');
  });

  it('does not let two DAG directives share a match', () => {
    expect(failure('CHECK-DAG: a\nCHECK-DAG: a', 'a\n')).toContain('CHECK-DAG: expected string not found');
    passes('CHECK-DAG: a\nCHECK-DAG: a', 'a a\n');
  });

  it('the next CHECK starts after the furthest DAG match', () => {
    expect(failure('CHECK-DAG: b\nCHECK-DAG: a\nCHECK: x', 'x\na\nb\n')).toContain('CHECK: expected string not found');
  });

  it('a CHECK-NOT before a DAG group covers up to the earliest DAG match', () => {
    const check = 'CHECK: s\nCHECK-NOT: bad\nCHECK-DAG: one\nCHECK-DAG: two';
    expect(failure(check, 's\nbad\ntwo\none\n')).toContain('CHECK-NOT: excluded string found');
    passes(check, 's\ntwo\nbad\none\n');
  });
});

describe('FileCheck: CHECK-LABEL', () => {
  const input = 'graph @one {\n  onnx.Relu\n}\ngraph @two {\n  onnx.Sigmoid\n}\n';

  it('confines checks to the block between labels', () => {
    passes('CHECK-LABEL: graph @one\nCHECK: onnx.Relu\nCHECK-LABEL: graph @two\nCHECK: onnx.Sigmoid', input);
    const m = failure('CHECK-LABEL: graph @one\nCHECK: onnx.Sigmoid\nCHECK-LABEL: graph @two', input);
    expect(m).toContain('t.lir:2:8: error: CHECK: expected string not found in input');
  });

  it('a CHECK-NOT stops at the next label', () => {
    passes('CHECK-LABEL: graph @one\nCHECK-NOT: onnx.Sigmoid\nCHECK-LABEL: graph @two', input);
  });

  it('reports every failing block', () => {
    const m = failure('CHECK-LABEL: @one\nCHECK: nope1\nCHECK-LABEL: @two\nCHECK: nope2', input);
    expect(m).toContain('nope1');
    expect(m).toContain('nope2');
  });

  it('fails on a missing label', () => {
    expect(failure('CHECK-LABEL: graph @three', input)).toContain('CHECK-LABEL: expected string not found in input');
  });

  it('rejects variables in labels', () => {
    expect(failure('CHECK-LABEL: [[X:.*]]', input)).toContain("'CHECK-LABEL' cannot use or define variables");
  });
});

describe('FileCheck: regexes and variables', () => {
  it('matches {{regex}} parts', () => {
    passes('CHECK: %{{[0-9]+}} = onnx.Add', '%12 = onnx.Add(%a, %b)\n');
    failure('CHECK: %{{[0-9]+}} = onnx.Add', '%x = onnx.Add(%a, %b)\n');
  });

  it('{{^}} and {{$}} anchor to line boundaries', () => {
    passes('CHECK: {{^}}return{{$}}', '  x return y\nreturn\n');
    failure('CHECK: {{^}}return{{$}}', '  return\n');
  });

  it('captures with [[NAME:regex]] and substitutes [[NAME]] later', () => {
    const check = 'CHECK: %[[Y:[a-z0-9_]+]] = onnx.Conv\nCHECK: onnx.Relu(%[[Y]])';
    passes(check, '%c1 = onnx.Conv(%x, %w)\n%r = onnx.Relu(%c1)\n');
    const m = failure(check, '%c1 = onnx.Conv(%x, %w)\n%r = onnx.Relu(%c2)\n');
    expect(m).toContain('CHECK: expected string not found');
  });

  it('substitutes variables literally (metacharacters in the captured text)', () => {
    passes('CHECK: v=[[V:.*]];\nCHECK: got [[V]]', 'v=a.b;\ngot a.b\n');
    failure('CHECK: v=[[V:.*]];\nCHECK: got [[V]]', 'v=a.b;\ngot axb\n');
  });

  it('supports a use of a variable defined earlier in the same pattern', () => {
    passes('CHECK: [[A:[a-z]+]] == [[A]]', 'xy == xy\n');
    failure('CHECK: [[A:[a-z]+]] == [[A]]', 'xy == zz\n');
  });

  it('variables defined in DAG matches are usable afterwards', () => {
    passes('CHECK-DAG: %[[B:.*]] = b\nCHECK-DAG: %[[A:.*]] = a\nCHECK: use(%[[A]], %[[B]])', '%1 = a\n%2 = b\nuse(%1, %2)\n');
  });

  it('reports an undefined variable at its directive', () => {
    expect(failure('CHECK: a\nCHECK: [[NOPE]]', 'a\n')).toContain("t.lir:2:8: error: CHECK: uses undefined variable 'NOPE'");
  });

  it('reports malformed regexes and references in the check file', () => {
    expect(failure('CHECK: {{[a-}}', 'x')).toContain('invalid regex');
    expect(failure('CHECK: {{abc', 'x')).toContain("found start of regex string with no end '}}'");
    expect(failure('CHECK: [[X:a', 'x')).toContain("no closing ']]'");
    expect(failure('CHECK: [[1x]]', 'x')).toContain("invalid variable name '1x'");
  });
});

describe('FileCheck: prefixes', () => {
  it('uses only the given prefixes', () => {
    const check = 'CHECK: common\nFOO: only-foo\nBAR: only-bar';
    passes(check, 'common\nonly-foo\n', { prefixes: ['FOO'] });
    passes(check, 'only-bar\n', { prefixes: ['BAR'] });
    passes(check, 'common\nonly-foo\nonly-bar\n', { prefixes: ['CHECK', 'FOO', 'BAR'] });
    expect(failure(check, 'x\n', { prefixes: ['FOO'] })).toContain('FOO: expected string not found');
    expect(failure(check, 'x\n', { prefixes: ['FOO-NEXT'] })).toContain("no check strings found with prefix 'FOO-NEXT:'");
  });

  it('supports directive suffixes on custom prefixes', () => {
    passes('OPT-LABEL: @g\nOPT-NEXT: b\nOPT-NOT: c', '@g\nb\n', { prefixes: ['OPT'] });
  });

  it('rejects an invalid prefix', () => {
    expect(failure('CHECK: x', 'x', { prefixes: ['a b'] })).toContain("invalid check prefix 'a b'");
  });
});

describe('parseDirectives', () => {
  it('records kind, line, column and trimmed pattern', () => {
    expect(() => parseDirectives('x\n  // CHECK-SAME:   b  \n', { checkFile: 'f' })).toThrow("f:2:20: error: found 'CHECK-SAME' without previous 'CHECK: line");
    const [d] = parseDirectives('// CHECK: a\n// CHECK-SAME:   b  \n');
    expect(d).toMatchObject({ kind: 'plain', name: 'CHECK', pattern: 'a', line: 1, col: 11 });
    expect(parseDirectives('// CHECK: a\n// CHECK-SAME:   b  \n')[1]).toMatchObject({ kind: 'same', pattern: 'b', line: 2, col: 18 });
  });
});
