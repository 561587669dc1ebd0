/**
 * @fileoverview `dce`: remove nodes whose results nobody uses, unused constants, and
 * weight-store entries that no constant or quantized type refers to.
 */
import { graphTree, dropUnreferencedWeights, eraseDead } from '../rewrite/erase.js';
import { definePass, registerPass } from './manager.js';

export const dce = definePass({
  name: 'dce',
  summary: 'remove unused nodes, constants and weight-store entries',
  description: '%dead = op(%x) with no users → (nothing); const %c with no users → (nothing); '
    + 'weights @k no constant refers to → (dropped).',
  options: {},
  run(model, _options, ctx) {
    let removed = 0;
    // Until nothing changes: erasing a node with a subgraph may free the outer values it used.
    for (let n = -1; n !== 0;) {
      n = 0;
      for (const g of graphTree(model.graph).reverse()) n += eraseDead(g, [...g.nodes, ...g.constants]);
      removed += n;
    }
    const dropped = dropUnreferencedWeights(model.graph);
    ctx.trace?.(`removed ${removed} nodes and constants, ${dropped} weight-store entries`);
  },
});
registerPass(dce);
