/**
 * @fileoverview Locating a Chromium for browser tests: $LUTRA_CHROMIUM, else Debian's
 * /usr/bin/chromium (.ci/run installs it). Tests skip with a message when there is none.
 */
import { existsSync } from 'node:fs';

/** Where the browser tests look, in order. */
export const CHROMIUM_CANDIDATES: readonly string[] = [process.env.LUTRA_CHROMIUM, '/usr/bin/chromium'].filter((p): p is string => !!p);

/** The Chromium executable to launch, or undefined when none is installed. */
export function findChromium(): string | undefined {
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p));
}

/** Why browser tests are skipped, for the console. */
export function missingChromiumMessage(what: string): string {
  return `[lutra tests] chromium is missing (looked for ${CHROMIUM_CANDIDATES.join(', ')}): ${what} skipped. ` +
    `.ci/run installs it (Debian package 'chromium'); or set LUTRA_CHROMIUM to a Chromium executable.`;
}
