/** @fileoverview Running `lutra` in-process in tests, and asserting on user errors. */
import { expect } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Run `lutra` in-process, capturing its output. */
export async function lutra(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (s) => { stdout += s; }, stderr: (s) => { stderr += s; } });
  return { code, stdout, stderr };
}

/** A user error: exit 1 and exactly one `lutra: error:` line matching `re`, no stack. */
export async function userError(re: RegExp, ...argv: string[]): Promise<string> {
  const r = await lutra(...argv);
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^lutra: error: /);
  expect(lines[0]).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}
