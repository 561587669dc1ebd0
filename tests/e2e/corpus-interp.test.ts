/**
 * The reference interpreter reproduces ONNX Runtime's stored outputs for every corpus model, within
 * 1e-4 of each output's largest magnitude, on the first stored data set. f16 outputs get 2e-3:
 * ONNX Runtime rounds fp16 intermediates inside its kernels while Lutra rounds once per op, and
 * 1e-4 is below one fp16 ulp (2^-10 relative).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '../../src/frontends/onnx/import.js';
import { readDataDir } from '../../src/frontends/onnx/testdata.js';
import { run } from '../../src/interp/interpreter.js';
import type { Tensor } from '../../src/ir/tensor.js';
import { corpusModels, HAS_SHARED } from '../helpers/shared.js';

const REL = 1e-4;
const REL_F16 = 2e-3;

/** Worst |actual - expected| relative to max |expected|, or why the tensors are not comparable. */
function mismatch(actual: Tensor, expected: Tensor): string | undefined {
  if (actual.dtype !== expected.dtype) return `dtype ${actual.dtype}, expected ${expected.dtype}`;
  if (actual.shape.join() !== expected.shape.join()) return `shape [${actual.shape}], expected [${expected.shape}]`;
  const a = actual.toNumbers();
  const e = expected.toNumbers();
  let scale = Number.MIN_VALUE;
  for (const y of e) if (Number.isFinite(y)) scale = Math.max(scale, Math.abs(y));
  const rel = expected.dtype === 'f16' ? REL_F16 : REL;
  let worst = 0;
  let at = -1;
  e.forEach((y, i) => {
    const d = Number.isNaN(y) && Number.isNaN(a[i]!) ? 0 : Math.abs(a[i]! - y);
    if (!(d <= worst)) { worst = d; at = i; }
  });
  return worst <= rel * scale ? undefined : `max error ${worst} at element ${at} (${a[at]} vs ${e[at]}) exceeds ${rel} × ${scale}`;
}

describe.skipIf(!HAS_SHARED)('reference interpreter on the corpus', () => {
  it.each(corpusModels().map((m) => [m.name, m.dir] as const))('%s', (_, dir) => {
    const model = loadOnnx(join(dir, 'model.onnx'));
    const [set] = readDataDir(existsSync(join(dir, 'eval')) ? join(dir, 'eval') : join(dir, 'data'));
    const outputs = run(model.graph, set!.inputs);
    const problems = set!.outputs
      .map((want, k) => [model.graph.outputs[k]?.name, mismatch(outputs[k]!, want)])
      .filter(([, m]) => m !== undefined);
    expect(problems).toEqual([]);
  }, 600_000);
});
