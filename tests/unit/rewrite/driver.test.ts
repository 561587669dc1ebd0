/** The greedy driver: fixpoint, iteration cap, trace lines, rollback of declined rules, cleanup and stable names. */
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Tensor, tensorType, verify, type Value } from '../../../src/ir/index.js';
import { applyRules } from '../../../src/rewrite/driver.js';
import { P } from '../../../src/rewrite/pattern.js';
import { rule } from '../../../src/rewrite/rule.js';

/** Exp(Exp(…Exp(x))) n times, then Relu. */
function chain(n: number): { g: Graph; x: Value } {
  const g = new Graph('t');
  const b = new Builder(g);
  const x = b.input('x', tensorType('f32', [4]));
  let v = x;
  for (let i = 0; i < n; i++) v = b.op('onnx.Neg', [v]);
  b.output(b.op('onnx.Relu', [v]));
  return { g, x };
}

/** onnx.Neg(onnx.Neg(x)) → x. */
const doubleNeg = rule('double-neg', P.op('onnx.Neg', [P.op('onnx.Neg', [P.any('x')])]), ({ x }) => x);

describe('applyRules', () => {
  it('rewrites to a fixpoint and removes the nodes that became dead', () => {
    const { g, x } = chain(4);
    const r = applyRules(g, [doubleNeg]);
    expect(r).toMatchObject({ applied: 2, converged: true });
    expect(g.nodes.map((n) => n.op)).toEqual(['onnx.Relu']);
    expect(g.nodes[0]!.inputs[0]).toBe(x);
    verify(g);
  });

  it('stops at the iteration cap and says so in the trace', () => {
    // Relu(x) → Relu(Relu(x))… never converges: each sweep wraps once more.
    let n = 0;
    const grow = rule('grow', P.op('onnx.Relu', [P.any('x')]).as('relu'), ({ x, relu }, ctx) =>
      (n++ < 100 && relu.outputs[0]!.name === 'relu' ? ctx.make('onnx.Relu', [ctx.make('onnx.Relu', [x])]) : undefined));
    const { g } = chain(0);
    const lines: string[] = [];
    const r = applyRules(g, [grow], { maxIterations: 3, trace: (l) => lines.push(l) });
    expect(r).toEqual({ applied: 3, iterations: 3, converged: false });
    expect(lines.at(-1)).toBe('stopped after 3 iterations without reaching a fixpoint');
  });

  it('traces applications and failure reasons', () => {
    const { g } = chain(1);
    const lines: string[] = [];
    const refuse = rule('refuse', P.op('onnx.Relu', [P.any('x')]), (_, ctx) => ctx.fail('not today'));
    applyRules(g, [doubleNeg, refuse], { trace: (l) => lines.push(l) });
    expect(lines).toContain('double-neg on onnx.Neg (output neg): no match: operand 0 of onnx.Neg (output neg): expected onnx.Neg, found a graph input %x');
    expect(lines).toContain('refuse on onnx.Relu (output relu): failed: not today');
    const { g: g2 } = chain(2);
    const applied: string[] = [];
    applyRules(g2, [doubleNeg], { trace: (l) => applied.push(l) });
    expect(applied).toContain('double-neg on onnx.Neg (output neg_1): applied');
  });

  it('removes what a declining rule built, leaving the IR unchanged', () => {
    const { g } = chain(1);
    const before = g.nodes.map((n) => n.op).join();
    const builder = rule('builds-then-fails', P.op('onnx.Relu', [P.any('x')]), ({ x }, ctx) => {
      ctx.make('onnx.Exp', [ctx.newConstant(Tensor.scalar('f32', 1), 'one')]);
      ctx.make('onnx.Abs', [x]);
      return ctx.fail('changed its mind');
    });
    applyRules(g, [builder]);
    expect(g.nodes.map((n) => n.op).join()).toBe(before);
    expect(g.constants).toEqual([]);
    expect(g.weights.size).toBe(0);
  });

  it('gives the replacement the name of the value it replaces, and keeps graph outputs named', () => {
    const { g } = chain(1);
    const toAbs = rule('relu-to-abs', P.op('onnx.Relu', [P.any('x')]), ({ x }, ctx) => ctx.make('onnx.Abs', [x]));
    applyRules(g, [toAbs]);
    expect(g.outputs[0]!.name).toBe('relu');
    expect(g.outputs[0]!.producer!.op).toBe('onnx.Abs');
    // Replacing a graph output by an existing value would rename the output: refused.
    const lines: string[] = [];
    const drop = rule('drop', P.op('onnx.Abs', [P.any('x')]), ({ x }) => x);
    applyRules(g, [drop], { trace: (l) => lines.push(l) });
    expect(lines).toContain('drop on onnx.Abs (output relu): failed: result %relu is a graph output and would be renamed');
  });

  it('reports matched nodes used outside the match', () => {
    const g = new Graph('t');
    const b = new Builder(g);
    const x = b.input('x', tensorType('f32', [4]));
    const e = b.op('onnx.Exp', [x]);
    b.output(b.op('onnx.Relu', [e]), b.op('onnx.Abs', [e]));
    const seen: (string | undefined)[] = [];
    const r = rule('peek', P.op('onnx.Relu', [P.op('onnx.Exp', [P.any('x')])]), (_, ctx) => { seen.push(ctx.usedOutside()?.op); return undefined; });
    applyRules(g, [r]);
    expect(seen).toEqual(['onnx.Exp']);
  });

  it('rejects a replacement of another type (a rule bug)', () => {
    const { g } = chain(1);
    const bad = rule('bad', P.op('onnx.Relu', [P.any('x')]), (_, ctx) => ctx.newConstant(Tensor.scalar('i64', 1), 'k'));
    expect(() => applyRules(g, [bad])).toThrow(/rule bad replaced %relu: f32\[4\]/);
  });

  it('composes rule sets by concatenation, trying rules in order', () => {
    const { g } = chain(1);
    const order: string[] = [];
    const note = (name: string) => rule(name, P.op('onnx.Relu', [P.any()]), () => { order.push(name); return undefined; });
    applyRules(g, [...[note('a'), note('b')], ...[note('c')]], { maxIterations: 1 });
    expect(order).toEqual(['a', 'b', 'c']);
  });
});
