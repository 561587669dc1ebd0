/** Every `.lir` golden test under tests/lit/ and examples/ is one vitest case (docs/testing.md). */
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverLitFiles, runLitFile } from '../../src/testing/lit.js';
import { ROOT } from '../helpers/shared.js';

const files = discoverLitFiles([join(ROOT, 'tests/lit'), join(ROOT, 'examples')]);
const update = process.env.LUTRA_UPDATE_FIXTURES === '1';

describe('lit', () => {
  it('finds the golden tests', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const f of files) {
    it(relative(ROOT, f), async () => {
      const r = await runLitFile(f, { update });
      if (!r.ok) expect.fail(r.message);
    });
  }
});
