/**
 * The ONNX backend conformance data through the importer and the reference interpreter: no test
 * may fail (unsupported ops and dtypes are skipped, with the reason recorded), and at least as
 * many pass as when this was last raised — a supported test that starts skipping is a regression.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOnnxSuite } from '../../src/testing/onnx-suite.js';
import { HAS_SHARED, ONNX_TESTS } from '../helpers/shared.js';

/** Tests passing per directory (light/ stores no inputs, so all of it skips). */
const MIN_PASSED: Record<string, number> = { node: 1329, 'pytorch-converted': 82, 'pytorch-operator': 35, simple: 7, light: 0 };
const SUITES = Object.keys(MIN_PASSED);

describe.skipIf(!HAS_SHARED || !existsSync(ONNX_TESTS))('ONNX backend conformance suite', () => {
  it.each(SUITES)('%s/ has no failures', (suite) => {
    const report = runOnnxSuite(join(ONNX_TESTS, suite));
    console.log(`${suite}/: ${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped`);
    const failures = report.results.filter((r) => r.status === 'failed').map((r) => `${r.name}: ${r.reason}`);
    expect(failures).toEqual([]);
    expect(report.passed).toBeGreaterThanOrEqual(MIN_PASSED[suite]!);
  }, 600_000);
});
