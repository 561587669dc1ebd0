/**
 * @fileoverview Tokens of the text IR (docs/ir-text-format.md). Keywords are identifiers with
 * `longer_alt`, grouped under the `Name` category so any position that takes a bare name (an op,
 * an attribute, a symbolic dim) also takes a keyword spelled the same.
 */
import { Lexer, createToken, type TokenType } from 'chevrotain';

const NAME_PATTERN = /[A-Za-z_][A-Za-z0-9_.$-]*/;
const JSON_STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/;

/** Any bare name: keywords belong to this category. */
export const Name = createToken({ name: 'Name', label: 'a name', pattern: Lexer.NA });
/** A bare name that is no keyword. */
export const Ident = createToken({ name: 'Ident', label: 'a name', pattern: NAME_PATTERN, categories: [Name] });

const keyword = (word: string): TokenType =>
  createToken({ name: `Kw_${word}`, label: `'${word}'`, pattern: new RegExp(word), longer_alt: Ident, categories: [Name] });

export const KwModel = keyword('model');
export const KwGraph = keyword('graph');
export const KwConst = keyword('const');
export const KwDense = keyword('dense');
export const KwReturn = keyword('return');
export const KwLoc = keyword('loc');
export const KwWeights = keyword('weights');
export const KwTrue = keyword('true');
export const KwFalse = keyword('false');
export const KwNan = keyword('nan');
export const KwInf = keyword('inf');
/** `q` starts a quantized element type. */
export const KwQ = keyword('q');
/** `_` is an omitted optional operand. */
export const KwOmitted = keyword('_');

/** `%name` or `%"quoted name"`. */
export const ValueRef = createToken({ name: 'ValueRef', label: 'a %value', pattern: new RegExp(`%(?:[A-Za-z0-9_.$-]+|${JSON_STRING.source})`) });
/** `@name` or `@"quoted name"`: graph names and weight keys. */
export const SymbolRef = createToken({ name: 'SymbolRef', label: 'an @name', pattern: new RegExp(`@(?:[A-Za-z0-9_.$-]+|${JSON_STRING.source})`) });
/** `x"0a1b…"`: raw little-endian tensor bytes. */
export const HexString = createToken({ name: 'HexString', label: 'x"…" data', pattern: /x"[0-9a-fA-F]*"/ });
export const StringLit = createToken({ name: 'StringLit', label: 'a string', pattern: JSON_STRING });
/** `-inf` (a leading minus is part of a number). */
export const NegInf = createToken({ name: 'NegInf', label: "'-inf'", pattern: /-inf(?![A-Za-z0-9_.$-])/ });
/** Integer or float literal; floats have a `.` or an exponent. */
export const NumberLit = createToken({ name: 'NumberLit', label: 'a number', pattern: /-?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?/ });
export const Arrow = createToken({ name: 'Arrow', label: "'->'", pattern: /->/ });
export const LParen = createToken({ name: 'LParen', label: "'('", pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', label: "')'", pattern: /\)/ });
export const LBrace = createToken({ name: 'LBrace', label: "'{'", pattern: /\{/ });
export const RBrace = createToken({ name: 'RBrace', label: "'}'", pattern: /\}/ });
export const LBracket = createToken({ name: 'LBracket', label: "'['", pattern: /\[/ });
export const RBracket = createToken({ name: 'RBracket', label: "']'", pattern: /\]/ });
export const LAngle = createToken({ name: 'LAngle', label: "'<'", pattern: /</ });
export const RAngle = createToken({ name: 'RAngle', label: "'>'", pattern: />/ });
export const Comma = createToken({ name: 'Comma', label: "','", pattern: /,/ });
export const Colon = createToken({ name: 'Colon', label: "':'", pattern: /:/ });
export const Equals = createToken({ name: 'Equals', label: "'='", pattern: /=/ });
export const Question = createToken({ name: 'Question', label: "'?'", pattern: /\?/ });
export const Star = createToken({ name: 'Star', label: "'*'", pattern: /\*/ });
const Comment = createToken({ name: 'Comment', pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });
const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED, line_breaks: true });

/** Every token type, in matching order. */
export const ALL_TOKENS: TokenType[] = [
  WhiteSpace, Comment, Arrow, NegInf, NumberLit, HexString, StringLit, ValueRef, SymbolRef,
  KwModel, KwGraph, KwConst, KwDense, KwReturn, KwLoc, KwWeights, KwTrue, KwFalse, KwNan, KwInf, KwQ, KwOmitted,
  Name, Ident,
  LParen, RParen, LBrace, RBrace, LBracket, RBracket, LAngle, RAngle, Comma, Colon, Equals, Question, Star,
];

/** The text IR lexer (positions tracked for diagnostics). */
export const irLexer = new Lexer(ALL_TOKENS, { positionTracking: 'full', ensureOptimizations: false });
