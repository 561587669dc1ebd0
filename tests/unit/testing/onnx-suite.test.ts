import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeTensor } from '../../../src/frontends/onnx/testdata.js';
import { Tensor } from '../../../src/ir/tensor.js';
import { compareTensors, runOnnxSuite } from '../../../src/testing/onnx-suite.js';
import { modelBytes, node, vi } from '../frontends/onnx/protos.js';

const tmp = mkdtempSync(join(tmpdir(), 'lutra-suite-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A conformance-style test dir: model.onnx + test_data_set_0 with x → expected y. */
function addTest(name: string, op: string, x: number[], y: number[]): void {
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'test_data_set_0'), { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), modelBytes({ node: [node(op, ['x'], ['y'])], input: [vi('x', [x.length])], output: [vi('y', [y.length])] }));
  writeTensor(join(dir, 'test_data_set_0', 'input_0.pb'), Tensor.from('f32', [x.length], x));
  writeTensor(join(dir, 'test_data_set_0', 'output_0.pb'), Tensor.from('f32', [y.length], y));
}

describe('runOnnxSuite', () => {
  addTest('test_relu', 'Relu', [-1, 2], [0, 2]);
  addTest('test_relu_wrong', 'Relu', [-1, 2], [0, 3]);
  addTest('test_unknown', 'NoSuchOp', [1], [1]);

  it('passes, fails and skips with reasons', () => {
    const seen: string[] = [];
    const r = runOnnxSuite(tmp, { onProgress: (done, total, name) => seen.push(`${done}/${total} ${name}`) });
    expect([r.passed, r.failed, r.skipped]).toEqual([1, 1, 1]);
    expect(r.results.map((x) => [x.name, x.status])).toEqual([['test_relu', 'passed'], ['test_relu_wrong', 'failed'], ['test_unknown', 'skipped']]);
    expect(r.results[1]!.reason).toBe("test_data_set_0: output 0 ('y'): 1 of 2 elements differ; first at [1]: 2, expected 3");
    expect(r.results[2]!.reason).toContain('1 unsupported op: ai.onnx::NoSuchOp');
    expect(seen).toEqual(['1/3 test_relu', '2/3 test_relu_wrong', '3/3 test_unknown']);
  });

  it('filters tests by name', () => {
    expect(runOnnxSuite(tmp, { filter: /wrong/ }).results.map((x) => x.name)).toEqual(['test_relu_wrong']);
  });
});

describe('compareTensors', () => {
  const f = (v: number[]) => Tensor.from('f32', [v.length], v);

  it('uses rtol 1e-3 and atol 1e-7 against the expected value', () => {
    expect(compareTensors(f([1000.9]), f([1000]))).toBeUndefined();
    expect(compareTensors(f([1001.1]), f([1000]))).toMatch(/1 of 1 elements differ/);
    expect(compareTensors(f([5e-8]), f([0]))).toBeUndefined();
  });

  it('treats NaN as equal to NaN and requires matching dtype, shape and exact integers', () => {
    expect(compareTensors(f([NaN]), f([NaN]))).toBeUndefined();
    expect(compareTensors(f([1, 2]), Tensor.from('f64', [2], [1, 2]))).toBe('dtype f32, expected f64');
    expect(compareTensors(f([1, 2]), Tensor.from('f32', [2, 1], [1, 2]))).toBe('shape [2], expected [2,1]');
    expect(compareTensors(Tensor.from('i32', [1], [1000]), Tensor.from('i32', [1], [1001]))).toMatch(/differ/);
  });
});
