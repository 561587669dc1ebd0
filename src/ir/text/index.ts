/** @fileoverview The text IR: print a model or graph, parse it back (docs/ir-text-format.md). */
export { printModel, printGraph, formatValueName, type PrintOptions } from './printer.js';
export { parseModel, parseType, parseOptionalType, sourceLocation, type SourceLocation } from './parser.js';
