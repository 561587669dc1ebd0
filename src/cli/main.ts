#!/usr/bin/env node
/**
 * @fileoverview The `lutra` command: dispatches to one module per subcommand. `main` takes the
 * arguments and an Io so tests run it in-process. A LutraError prints as one line
 * `lutra: error: <message>` and exits 1; anything else is a bug and prints its stack (exit 2).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isLutraError } from '../ir/diagnostics.js';
import { type Command, type Io, commandHelp, parseCommand, usageError } from './command.js';
import { compile } from './commands/compile.js';
import { evaluate } from './commands/eval.js';
import { inspect } from './commands/inspect.js';
import { opt } from './commands/opt.js';
import { passes } from './commands/passes.js';
import { quantize } from './commands/quantize.js';
import { run } from './commands/run.js';
import { testOnnx } from './commands/test-onnx.js';

/** Every subcommand, in help order. */
export const COMMANDS: readonly Command[] = [inspect, opt, quantize, compile, run, evaluate, passes, testOnnx];

/** The package version (from package.json, found relative to this file in src/ and dist/). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function globalHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Lutra ${version()}: a quantizing compiler for ONNX models.

Usage: lutra <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`).join('\n')}

Options:
  -h, --help     show help (also 'lutra <command> --help')
  -V, --version  print the version

Exit codes: 0 success, 1 error (bad input, bad usage, failed tests), 2 internal error (a bug).
Documentation: docs/cli.md
`;
}

const processIo: Io = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
  isTTY: process.stderr.isTTY === true,
};

/** Run `lutra` with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined) {
      io.stderr(globalHelp());
      return 1;
    }
    if (first === '--help' || first === '-h' || first === 'help') {
      io.stdout(globalHelp());
      return 0;
    }
    if (first === '--version' || first === '-V') {
      io.stdout(`${version()}\n`);
      return 0;
    }
    if (first.startsWith('-')) throw usageError(undefined, `unknown option '${first}' (a command comes first: ${COMMANDS.map((c) => c.name).join(', ')})`);
    const cmd = COMMANDS.find((c) => c.name === first);
    if (!cmd) throw usageError(undefined, `unknown command '${first}' (commands: ${COMMANDS.map((c) => c.name).join(', ')})`);
    const args = parseCommand(cmd, rest);
    if (!args) {
      io.stdout(commandHelp(cmd));
      return 0;
    }
    return await cmd.run(args, io);
  } catch (e) {
    if (isLutraError(e)) {
      io.stderr(`lutra: error: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 1;
    }
    io.stderr(`lutra: internal error (a bug in Lutra, please report it):\n${(e as Error).stack ?? String(e)}\n`);
    return 2;
  }
}

/** True when this module is the process entry point (node dist/cli/main.js, or the npm bin link). */
function isEntry(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  process.exitCode = await main(process.argv.slice(2));
}
