/**
 * @fileoverview What a `lutra` subcommand is: a name, a summary, positional arguments, typed
 * options (parsed with node:util parseArgs, help generated from the same table) and a run
 * function writing through an Io so tests can run the CLI in-process.
 */
import { parseArgs } from 'node:util';
import { LutraError } from '../ir/diagnostics.js';

/** Where a command writes; the real process or a capture in tests. */
export interface Io {
  stdout(s: string): void;
  stderr(s: string): void;
  /** stderr is a terminal: progress redraws one line instead of printing lines. */
  readonly isTTY?: boolean;
}

/** One option of a command, for parseArgs and for the generated help. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  readonly required?: boolean;
  /** Placeholder for the value in help (`--passes <pipeline>`). */
  readonly value?: string;
  readonly help: string;
}

/** Parsed command line of one command. */
export interface Args {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Positional argument names, e.g. `['model']`; all required. */
  readonly args: readonly string[];
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Help text after the synopsis and options: details and examples. */
  readonly details: string;
  run(args: Args, io: Io): Promise<number>;
}

/** A command-line mistake: exit code 1 and a pointer to the command's help. */
export function usageError(cmd: Command | undefined, message: string): LutraError {
  const help = cmd ? `lutra ${cmd.name} --help` : 'lutra --help';
  return new LutraError('usage', `${message} (see '${help}')`);
}

const HELP_OPTION: OptionSpec = { type: 'boolean', short: 'h', help: 'show this help' };

/** Synopsis + argument + options + details help of a command. */
export function commandHelp(cmd: Command): string {
  const opts = { ...cmd.options, help: HELP_OPTION };
  const flag = (name: string, o: OptionSpec) => `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` <${o.value ?? 'value'}>` : ''}`;
  const synopsis = [
    `lutra ${cmd.name}`,
    ...cmd.args.map((a) => `<${a}>`),
    ...Object.entries(cmd.options).map(([n, o]) => (o.required ? flag(n, o) : `[${flag(n, o)}]`)),
  ].join(' ');
  const rows = Object.entries(opts).map(([n, o]) => [flag(n, o), `${o.help}${o.multiple ? ' (repeatable)' : ''}${o.required ? ' (required)' : ''}`] as const);
  const width = Math.max(...rows.map((r) => r[0].length));
  const lines = rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`);
  return `${cmd.summary}\n\nUsage: ${synopsis}\n\nOptions:\n${lines.join('\n')}\n${cmd.details ? `\n${cmd.details.trimEnd()}\n` : ''}`;
}

/** Parse `argv` for `cmd`; undefined means `--help` was asked for. Mistakes are usage errors naming the flag. */
export function parseCommand(cmd: Command, argv: readonly string[]): Args | undefined {
  const opts = { ...cmd.options, help: HELP_OPTION };
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [n, o] of Object.entries(opts)) config[n] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: true });
  } catch (e) {
    throw usageError(cmd, parseArgsMessage(e as Error & { code?: string }, cmd));
  }
  if (parsed.values.help) return undefined;
  const pos = parsed.positionals;
  if (pos.length > cmd.args.length) throw usageError(cmd, `unexpected argument '${pos[cmd.args.length]}' for 'lutra ${cmd.name}'`);
  if (pos.length < cmd.args.length) throw usageError(cmd, `'lutra ${cmd.name}' needs <${cmd.args[pos.length]}>`);
  for (const [n, o] of Object.entries(cmd.options)) {
    if (o.required && parsed.values[n] === undefined) throw usageError(cmd, `'lutra ${cmd.name}' needs --${n} <${o.value ?? 'value'}>`);
  }
  return { positionals: pos, values: parsed.values as Args['values'] };
}

/** Turn parseArgs' errors into one line naming the flag. */
function parseArgsMessage(e: Error & { code?: string }, cmd: Command): string {
  const flag = /'(-[^' ]+)/.exec(e.message)?.[1];
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${flag ?? e.message}' for 'lutra ${cmd.name}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/argument missing/.test(e.message)) return `option '${flag}' needs a value`;
      if (/ambiguous/.test(e.message)) return `option '${flag}' needs a value (write ${flag}=<value> for a value starting with '-')`;
      return `option '${flag}' does not take a value`;
    default:
      throw e;
  }
}

/** A string option's value (the last one when repeated). */
export const str = (a: Args, name: string): string | undefined => {
  const v = a.values[name];
  return Array.isArray(v) ? v[v.length - 1] : typeof v === 'string' ? v : undefined;
};

/** A repeatable string option's values. */
export const strs = (a: Args, name: string): string[] => {
  const v = a.values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
};

/** A boolean flag. */
export const flag = (a: Args, name: string): boolean => a.values[name] === true;

/** The backends `lutra run` / `test-onnx` can use in this build. */
export const BACKENDS = ['ref'] as const;

/** Check `--backend`; others named by the design (wasm, webgpu, cuda) are not available yet. */
export function checkBackend(cmd: Command, backend: string | undefined): void {
  if (backend === undefined || (BACKENDS as readonly string[]).includes(backend)) return;
  throw usageError(cmd, `backend '${backend}' is not available (available backends: ${BACKENDS.join(', ')})`);
}
