/** @fileoverview The rewrite API: patterns, rules, the greedy driver (what plugins import). */
export { P, splat, match, rootOps, captureNames, type Pattern, type OpPattern, type ConstPred, type Bindings, type CapturesOf, type Match, type MatchResult } from './pattern.js';
export { rule, isFailure, type Rule, type RuleSet, type RuleResult, type RewriteCtx, type Failure } from './rule.js';
export { applyRules, type DriverOptions, type DriverResult } from './driver.js';
export { eraseDead, dropUnreferencedWeights, weightRefs, graphTree, rootGraph } from './erase.js';
