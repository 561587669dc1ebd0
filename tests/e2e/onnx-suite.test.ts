/**
 * The ONNX backend conformance data through the importer and the reference interpreter: no test
 * may fail (unsupported ops and dtypes are skipped, with the reason recorded).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnnxSuite } from '../../src/testing/onnx-suite.js';
import { HAS_SHARED, ONNX_TESTS } from '../helpers/shared.js';

const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple', 'light'];

describe.skipIf(!HAS_SHARED || !existsSync(ONNX_TESTS))('ONNX backend conformance suite', () => {
  it.each(SUITES)('%s/ has no failures', (suite) => {
    const report = runOnnxSuite(join(ONNX_TESTS, suite));
    console.log(`${suite}/: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`);
    const failures = report.results.filter((r) => r.status === 'failed').map((r) => `${r.name}: ${r.reason}`);
    expect(failures).toEqual([]);
  }, 600_000);
});
