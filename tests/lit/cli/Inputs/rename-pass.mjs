// A minimal plugin for tests/lit/cli/plugin.lir: one pass, no imports.
export const renameGraph = {
  name: 'rename-graph',
  summary: 'Rename the main graph (a test plugin).',
  description: 'graph @x → graph @<to>',
  options: { to: { type: 'string', default: 'renamed', doc: 'the new graph name' } },
  run(model, options, ctx) {
    ctx.trace?.(`renaming @${model.graph.name} to @${options.to}`);
    model.graph.name = options.to;
  },
};
