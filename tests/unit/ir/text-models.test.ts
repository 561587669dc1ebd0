import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '../../../src/frontends/onnx/import.js';
import { type Model, isLutraError, verify } from '../../../src/ir/index.js';
import { parseModel, printModel } from '../../../src/ir/text/index.js';
import { HAS_SHARED, ONNX_TESTS, corpusModels } from '../../helpers/shared.js';

/** The model, or undefined when the importer rejects it (an op or dtype not supported yet). */
function tryLoad(path: string): Model | undefined {
  try {
    return loadOnnx(path);
  } catch (e) {
    if (isLutraError(e)) return undefined;
    throw e;
  }
}

/** print → parse → print is identical in both weight modes, and a verified model still verifies. */
function expectRoundTrip(m: Model, file: string): void {
  for (const weights of ['elide', 'include'] as const) {
    const text = printModel(m, { weights });
    const back = parseModel(text, file);
    expect(printModel(back, { weights }), `${file} (${weights})`).toBe(text);
    if (weights === 'include') verify(back.graph);
  }
}

describe.skipIf(!HAS_SHARED)('text IR round trip on real models', () => {
  it('round-trips every corpus model the importer accepts', () => {
    const done: string[] = [];
    const skipped: string[] = [];
    for (const { name, dir } of corpusModels()) {
      const path = join(dir, 'model.onnx');
      const m = existsSync(path) ? tryLoad(path) : undefined;
      if (!m) { skipped.push(name); continue; }
      expectRoundTrip(m, path);
      done.push(name);
    }
    console.log(`[text-models] corpus: ${done.length} round-tripped, ${skipped.length} not importable (${skipped.join(', ')})`);
    // every corpus model imports, so every one must round-trip
    expect(skipped).toEqual([]);
  });

  it('round-trips every ONNX node-test model the importer accepts', () => {
    const root = join(ONNX_TESTS, 'node');
    let done = 0;
    let skipped = 0;
    for (const test of readdirSync(root)) {
      const path = join(root, test, 'model.onnx');
      const m = existsSync(path) ? tryLoad(path) : undefined;
      if (!m) { skipped++; continue; }
      expectRoundTrip(m, path);
      done++;
    }
    console.log(`[text-models] ONNX node tests: ${done} round-tripped, ${skipped} not importable`);
    // as many as the conformance suite imports (tests/e2e/onnx-suite.test.ts)
    expect(done).toBeGreaterThanOrEqual(1329);
  });
});
