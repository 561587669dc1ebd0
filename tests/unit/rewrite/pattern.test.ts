/** Pattern matching: captures, repeated names, commutative operands, alternatives, predicates and failure reasons. */
import { describe, expect, it } from 'vitest';
import { Builder, constantOf, Graph, Tensor, tensorType, type Node, type Value } from '../../../src/ir/index.js';
import { match, P, rootOps, splat, type Pattern } from '../../../src/rewrite/pattern.js';

function graph(): { g: Graph; b: Builder; x: Value; y: Value } {
  const g = new Graph('t');
  const b = new Builder(g);
  return { g, b, x: b.input('x', tensorType('f32', [2, 3])), y: b.input('y', tensorType('f32', [2, 3])) };
}

const at = (g: Graph, p: Pattern, v: Value) => match(p, v, { constant: (u) => constantOf(g, u) });

describe('match', () => {
  it('binds values and named nodes', () => {
    const { g, b, x, y } = graph();
    const add = b.op('onnx.Add', [x, y]);
    const r = at(g, P.op('onnx.Relu', [P.op('onnx.Add', [P.any('a'), P.any('b')]).as('add')]), b.op('onnx.Relu', [add]));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.match.bindings.a).toBe(x);
    expect(r.match.bindings.b).toBe(y);
    expect((r.match.bindings.add as Node).op).toBe('onnx.Add');
    expect(r.match.nodes.map((n) => n.op)).toEqual(['onnx.Relu', 'onnx.Add']);
  });

  it('requires a name captured twice to bind the same value', () => {
    const { g, b, x, y } = graph();
    const p = P.op('onnx.Mul', [P.any('x'), P.any('x')]);
    expect(at(g, p, b.op('onnx.Mul', [x, x])).ok).toBe(true);
    const r = at(g, p, b.op('onnx.Mul', [x, y]));
    expect(r).toEqual({ ok: false, reason: "'x' is bound to two different values" });
  });

  it('tries both operand orders of a commutative op', () => {
    const { g, b, x } = graph();
    const c = b.constant('c', Tensor.scalar('f32', 2));
    const p = P.op('onnx.Add', [P.op('onnx.Exp', [P.any('v')]), P.const('k')]);
    const swapped = b.op('onnx.Add', [c, b.op('onnx.Exp', [x])]);
    expect(at(g, p, swapped).ok).toBe(false);
    const r = at(g, p.commutative(), swapped);
    expect(r.ok && r.match.bindings.k).toBe(c);
  });

  it('takes the first matching alternative of oneOf and rejects alternatives with different captures', () => {
    const { g, b, x } = graph();
    const p = P.oneOf(P.op('onnx.Exp', [P.any('v')]), P.op('onnx.Log', [P.any('v')]));
    expect(at(g, p, b.op('onnx.Log', [x])).ok).toBe(true);
    expect(rootOps(p)).toEqual(['onnx.Exp', 'onnx.Log']);
    expect(() => P.oneOf(P.any('a'), P.any('b'))).toThrow(/capture different names/);
  });

  it('checks constants, their predicates and node predicates, and explains failures', () => {
    const { g, b, x } = graph();
    const two = b.constant('two', Tensor.scalar('f32', 2));
    const pow = b.op('onnx.Pow', [x, two]);
    expect(at(g, P.op('onnx.Pow', [P.any(), P.const(splat(2))]), pow).ok).toBe(true);
    expect(at(g, P.op('onnx.Pow', [P.any(), P.const(splat(3))]), pow)).toMatchObject({ reason: expect.stringMatching(/constant %two is not all 3$/) });
    expect(at(g, P.op('onnx.Pow', [P.const(), P.any()]), pow)).toMatchObject({ reason: expect.stringMatching(/%x is not a constant$/) });
    const t = b.op('onnx.Transpose', [x], { perm: [1, 0] });
    const identityPerm = P.op('onnx.Transpose', [P.any()]).where('an identity perm', (n) => (n.attrs.perm as number[]).every((d, i) => d === i));
    expect(at(g, identityPerm, t)).toMatchObject({ reason: expect.stringMatching(/: not an identity perm$/) });
  });

  it('reports the deepest failure with the operand path', () => {
    const { g, b, x } = graph();
    const v = b.op('onnx.Relu', [b.op('onnx.Exp', [x])]);
    const r = at(g, P.op('onnx.Relu', [P.op('onnx.Exp', [P.op('onnx.Log', [P.any()])])]), v);
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/^operand 0 of onnx.Exp \(output exp\): expected onnx.Log, found a graph input %x$/) });
  });

  it('matches exact arity unless rest() is given', () => {
    const { g, b, x } = graph();
    const ratio = b.constant('ratio', Tensor.scalar('f32', 0.1));
    const d = b.op('onnx.Dropout', [x, ratio]);
    expect(at(g, P.op('onnx.Dropout', [P.any()]), d)).toMatchObject({ reason: expect.stringMatching(/has 2 operands, the pattern 1$/) });
    expect(at(g, P.op('onnx.Dropout', [P.any()]).rest(), d).ok).toBe(true);
  });

  it('types captures from the pattern', () => {
    const p = P.op('onnx.Relu', [P.op('onnx.Conv', [P.any('x'), P.const('w')]).as('conv')]);
    type C = NonNullable<typeof p.__captures>;
    const check: C = { x: {} as Value, w: {} as Value, conv: {} as Node };
    expect(Object.keys(check).sort()).toEqual(['conv', 'w', 'x']);
  });
});
