import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Builder, Graph, Tensor, formatType, tensorType, verify } from '../../../src/ir/index.js';
import { run } from '../../../src/interp/interpreter.js';
import { runOnnxSuite } from '../../../src/testing/onnx-suite.js';
import { ONNX_TESTS } from '../../helpers/shared.js';

/** main(c, x) = If(c, then: x + x [f32[2]] , else: x padded by one [f32[3]] ) */
function ifModel(): Graph {
  const b = new Builder(new Graph('main'));
  const c = b.input('c', tensorType('bool', []));
  const x = b.input('x', tensorType('f32', [2]));
  const branch = (name: string, body: (sb: Builder) => void): Graph => {
    const g = new Graph(name, b.graph.weights);
    g.parent = b.graph;
    body(new Builder(g));
    return g;
  };
  const then = branch('then', (sb) => sb.output(sb.op('onnx.Add', [x, x])));
  const els = branch('else', (sb) => {
    const pads = sb.constant('pads', Tensor.from('i64', [2], [0, 1]));
    sb.output(sb.op('onnx.Pad', [x, pads]));
  });
  b.output(b.op('onnx.If', [c], { then_branch: then, else_branch: els }));
  verify(b.graph);
  return b.graph;
}

describe('If', () => {
  it('runs the taken branch, which reads values of the enclosing graph', () => {
    const g = ifModel();
    const x = Tensor.from('f32', [2], [1.5, -2]);
    expect(run(g, [Tensor.scalar('bool', 1), x])[0]!.toNumbers()).toEqual([3, -4]);
    expect(run(g, [Tensor.scalar('bool', 0), x])[0]!.toNumbers()).toEqual([1.5, -2, 0]);
  });

  it('merges branch output types: agreeing dims stay, differing ones become ?', () => {
    expect(formatType(ifModel().outputs[0]!.type)).toBe('f32[?]');
  });
});

describe('ONNX node conformance tests', () => {
  const dir = join(ONNX_TESTS, 'node');
  it.skipIf(!existsSync(dir))('the If tests pass (If with sequence / optional outputs is skipped)', () => {
    const report = runOnnxSuite(dir, { filter: /^test_if(_|$)/ });
    expect(report.results.filter((r) => r.status === 'failed')).toEqual([]);
    expect(report.passed).toBeGreaterThanOrEqual(1);
  });
});
