/** @fileoverview `lutra passes`: list the registered passes with their summaries and options. */
import { resolve } from 'node:path';
import { type OptionSchema, allPasses, loadPlugin } from '../../passes/manager.js';
import '../../passes/index.js';
import { type Command, flag, strs } from '../command.js';

export const passes: Command = {
  name: 'passes',
  summary: 'List the passes with their summaries and options.',
  args: [],
  options: {
    json: { type: 'boolean', help: 'print name, summary, description and options of every pass as JSON' },
    plugin: { type: 'string', multiple: true, value: 'file', help: 'also list the passes of this plugin module' },
  },
  details: `Each pass is listed with its options as 'name: type = default  doc'. A pipeline names
passes with option values: --passes "name{option=value,...},name2".

Examples:
  lutra passes
  lutra passes --json | jq '.[].name'`,
  async run(args, io) {
    for (const p of strs(args, 'plugin')) await loadPlugin(resolve(p));
    const list = allPasses();
    if (flag(args, 'json')) {
      io.stdout(`${JSON.stringify(list.map((p) => ({ name: p.name, summary: p.summary, description: p.description, options: p.options })), null, 2)}\n`);
      return 0;
    }
    const w = Math.max(0, ...list.map((p) => p.name.length));
    const lines: string[] = [];
    for (const p of list) {
      lines.push(`${p.name.padEnd(w)}  ${p.summary}`);
      for (const [k, o] of Object.entries(p.options as OptionSchema)) {
        lines.push(`${' '.repeat(w + 4)}${k}: ${o.type} = ${JSON.stringify(o.default)}  ${o.doc}`);
      }
    }
    io.stdout(`${lines.join('\n')}\n`);
    return 0;
  },
};
