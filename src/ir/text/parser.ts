/**
 * @fileoverview The text IR parser (format: docs/ir-text-format.md): a chevrotain grammar whose
 * embedded actions build the IR directly. Values resolve by name through nested scopes (a
 * subgraph sees its enclosing graphs); every problem is a one-line `parse` diagnostic at
 * `file:line:col`. `sourceLocation(node)` says where a parsed node came from.
 */
import { EOF, EmbeddedActionsParser, tokenLabel, type IParserErrorMessageProvider, type IToken, type TokenType } from 'chevrotain';
import { type DType, isBig, isDType, isFloat } from '../dtype.js';
import { LutraError } from '../diagnostics.js';
import { Graph, Model, Node, Value, WeightStore, type AttrValue, type Attrs } from '../graph.js';
import { Tensor } from '../tensor.js';
import { formatType, narrowBitsError, numel, storageDType, type Dim, type ElemType, type QuantType, type TensorType } from '../types.js';
import {
  ALL_TOKENS, Arrow, Colon, Comma, Equals, HexString, Ident, KwConst, KwDense, KwFalse, KwGraph, KwInf, KwLoc, KwModel,
  KwNan, KwOmitted, KwQ, KwReturn, KwTrue, KwWeights, LAngle, LBrace, LBracket, LParen, Name, NegInf, NumberLit,
  Question, RAngle, RBrace, RBracket, RParen, Star, StringLit, SymbolRef, ValueRef, irLexer,
} from './lexer.js';
import { rawByteLength, tensorFromBytes } from './tensor-data.js';

/** Where a parsed node was written. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

const LOCATIONS = new WeakMap<Node, SourceLocation>();

/** The file position a node was parsed from; undefined for nodes not made by the parser. */
export function sourceLocation(node: Node): SourceLocation | undefined {
  return LOCATIONS.get(node);
}

const show = (t: IToken): string => (t.tokenType === EOF ? 'end of input' : `'${t.image.length > 24 ? `${t.image.slice(0, 24)}…` : t.image}'`);
const firstTokens = (paths: TokenType[][][]): string =>
  [...new Set(paths.flat().map((p) => (p[0] ? tokenLabel(p[0]) : 'end')))].join(', ');

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `expected ${tokenLabel(expected)}, found ${show(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `unexpected ${show(firstRedundant)} where the input should end`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual }) => `expected one of ${firstTokens(expectedPathsPerAlt)}, found ${show(actual[0]!)}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) => `expected ${firstTokens([expectedIterationPaths])}, found ${show(actual[0]!)}`,
};

/** Name of a `%value` or `@symbol` token (quoted names are JSON strings). */
const sigilName = (t: IToken): string => (t.image[1] === '"' ? JSON.parse(t.image.slice(1)) as string : t.image.slice(1));

const isFloatToken = (t: IToken): boolean => t.tokenType !== NumberLit || /[.eE]/.test(t.image);

function numberValue(t: IToken): number {
  if (t.tokenType === KwNan) return NaN;
  if (t.tokenType === KwInf) return Infinity;
  if (t.tokenType === NegInf) return -Infinity;
  return Number(t.image);
}

class IrParser extends EmbeddedActionsParser {
  private file = '<input>';
  private weights = new WeightStore();
  /** Graphs being parsed, innermost last, with the names each defines. */
  private scopes: { graph: Graph; names: Map<string, Value> }[] = [];

  constructor() {
    super(ALL_TOKENS, { errorMessageProvider: messages, maxLookahead: 2 });
    this.performSelfAnalysis();
  }

  /** Prepare for a new input. */
  load(tokens: IToken[], file: string): void {
    this.input = tokens;
    this.file = file;
    this.weights = new WeightStore();
    this.scopes = [];
  }

  fail(t: IToken, message: string): never {
    throw new LutraError('parse', message, `${this.file}:${t.startLine ?? 1}:${t.startColumn ?? 1}`);
  }

  // ---- model -------------------------------------------------------------------------------

  model = this.RULE('model', (): Model => {
    const header: [IToken, IToken | [IToken, IToken][]][] = [];
    this.OPTION(() => {
      this.CONSUME(KwModel);
      this.CONSUME(LBrace);
      this.MANY_SEP({ SEP: Comma, DEF: () => {
        const key = this.CONSUME(Name);
        this.CONSUME(Equals);
        const value = this.OR([
          { ALT: () => this.CONSUME(NumberLit) },
          { ALT: () => this.CONSUME(StringLit) },
          { ALT: () => this.SUBRULE(this.dict) },
        ]);
        header.push([key, value]);
      } });
      this.CONSUME(RBrace);
    });
    const graph = this.SUBRULE(this.graph);
    this.OPTION1(() => this.SUBRULE(this.weightsSection));
    return this.ACTION(() => {
      const m = new Model(graph);
      for (const [key, value] of header) this.headerField(m, key, value);
      return m;
    });
  });

  private dict = this.RULE('dict', (): [IToken, IToken][] => {
    const entries: [IToken, IToken][] = [];
    this.CONSUME(LBrace);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      const key = this.CONSUME(StringLit);
      this.CONSUME(Equals);
      entries.push([key, this.OR([{ ALT: () => this.CONSUME(NumberLit) }, { ALT: () => this.CONSUME1(StringLit) }])]);
    } });
    this.CONSUME(RBrace);
    return entries;
  });

  private headerField(m: Model, key: IToken, value: IToken | [IToken, IToken][]): void {
    const want = (ok: boolean, what: string): void => { if (!ok) this.fail(key, `model field '${key.image}' must be ${what}`); };
    const str = (t: IToken): string => JSON.parse(t.image) as string;
    const isInt = (t: IToken): boolean => t.tokenType === NumberLit && /^[0-9]+$/.test(t.image);
    switch (key.image) {
      case 'opsets':
        want(Array.isArray(value) && value.every(([, v]) => isInt(v)), 'a {"domain" = version} dict');
        m.opsets = Object.fromEntries((value as [IToken, IToken][]).map(([k, v]) => [str(k), Number(v.image)]));
        return;
      case 'ir_version':
        want(!Array.isArray(value) && isInt(value), 'an integer');
        m.irVersion = Number((value as IToken).image);
        return;
      case 'producer':
      case 'doc_string':
        want(!Array.isArray(value) && value.tokenType === StringLit, 'a string');
        if (key.image === 'producer') m.producer = str(value as IToken); else m.docString = str(value as IToken);
        return;
      case 'metadata':
        want(Array.isArray(value) && value.every(([, v]) => v.tokenType === StringLit), 'a {"key" = "value"} dict');
        m.metadata = Object.fromEntries((value as [IToken, IToken][]).map(([k, v]) => [str(k), str(v)]));
        return;
      default:
        this.fail(key, `unknown model field '${key.image}' (expected opsets, ir_version, producer, doc_string, metadata)`);
    }
  }

  // ---- graphs ------------------------------------------------------------------------------

  graph = this.RULE('graph', (): Graph => {
    this.CONSUME(KwGraph);
    const nameTok = this.CONSUME(SymbolRef);
    const g = this.ACTION(() => {
      const outer = this.scopes[this.scopes.length - 1]?.graph;
      const graph = new Graph(sigilName(nameTok), this.weights);
      graph.parent = outer;
      this.scopes.push({ graph, names: new Map() });
      return graph;
    });
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      const v = this.CONSUME(ValueRef);
      this.CONSUME(Colon);
      const type = this.SUBRULE(this.tensorType);
      this.ACTION(() => g.inputs.push(this.define(v, new Value(sigilName(v), type))));
    } });
    this.CONSUME(RParen);
    this.CONSUME(Arrow);
    const declared: [IToken, TensorType][] = [];
    this.OR([
      { ALT: () => {
        this.CONSUME1(LParen);
        this.MANY_SEP1({ SEP: Comma, DEF: () => declared.push(this.SUBRULE(this.positionedType)) });
        this.CONSUME1(RParen);
      } },
      { ALT: () => declared.push(this.SUBRULE1(this.positionedType)) },
    ]);
    this.CONSUME(LBrace);
    this.MANY(() => this.SUBRULE(this.statement));
    const ret = this.CONSUME(KwReturn);
    const results: IToken[] = [];
    this.MANY_SEP2({ SEP: Comma, DEF: () => results.push(this.CONSUME1(ValueRef)) });
    this.CONSUME(RBrace);
    return this.ACTION(() => {
      g.outputs = results.map((t) => this.lookup(t));
      if (declared.length !== results.length) this.fail(ret, `graph @${g.name} declares ${declared.length} results but returns ${results.length}`);
      g.outputs.forEach((v, i) => {
        const [at, type] = declared[i]!;
        if (formatType(type) !== formatType(v.type)) this.fail(at, `result ${i} is declared ${formatType(type)} but %${v.name} is ${formatType(v.type)}`);
      });
      this.scopes.pop();
      return g;
    });
  });

  /** `%a, %b = onnx.Op(…) … : T, T` or `%c = const … : T`. */
  private statement = this.RULE('statement', () => {
    const first = this.LA(1);
    const results: IToken[] = [];
    this.OPTION(() => {
      this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => results.push(this.CONSUME(ValueRef)) });
      this.CONSUME(Equals);
    });
    this.OR([
      { ALT: () => this.SUBRULE(this.constant, { ARGS: [results] }) },
      { ALT: () => this.SUBRULE(this.node, { ARGS: [results, first] }) },
    ]);
  });

  private constant = this.RULE('constant', (results: IToken[] = []) => {
    const kw = this.CONSUME(KwConst);
    let key: IToken | undefined;
    let items: IToken[] | undefined;
    this.OR([
      { ALT: () => { items = this.SUBRULE(this.dense); } },
      { ALT: () => { key = this.CONSUME(SymbolRef); } },
    ]);
    this.CONSUME(Colon);
    const typeTok = this.LA(1);
    const type = this.SUBRULE(this.tensorType);
    this.ACTION(() => {
      if (results.length !== 1) this.fail(kw, `const defines exactly one value, got ${results.length}`);
      const name = sigilName(results[0]!);
      const v = new Value(name, type);
      v.weight = key ? sigilName(key) : name;
      if (items) this.weights.set(name, this.denseTensor(items, type, typeTok));
      this.scope().graph.constants.push(this.define(results[0]!, v));
    });
  });

  private node = this.RULE('node', (results: IToken[] = [], first: IToken = this.LA(1)) => {
    const opTok = this.CONSUME(Ident);
    const operands: (Value | null)[] = [];
    this.CONSUME(LParen);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      this.OR([
        { ALT: () => { const t = this.CONSUME(ValueRef); this.ACTION(() => operands.push(this.lookup(t))); } },
        { ALT: () => { this.CONSUME(KwOmitted); operands.push(null); } },
      ]);
    } });
    this.CONSUME(RParen);
    const attrs = this.OPTION(() => this.SUBRULE(this.attrDict)) ?? {};
    const types: TensorType[] = [];
    let colon: IToken | undefined;
    this.OPTION1(() => {
      colon = this.CONSUME(Colon);
      this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => types.push(this.SUBRULE(this.tensorType)) });
    });
    let name = '';
    this.OPTION2(() => {
      this.CONSUME(KwLoc);
      this.CONSUME1(LParen);
      const s = this.CONSUME(StringLit);
      this.CONSUME1(RParen);
      this.ACTION(() => { name = JSON.parse(s.image) as string; });
    });
    this.ACTION(() => {
      if (types.length !== results.length) {
        this.fail(colon ?? opTok, `${opTok.image} defines ${results.length} values but lists ${types.length} result types`);
      }
      const outs = results.map((t, i) => new Value(sigilName(t), types[i]!));
      const node = new Node(opTok.image, operands, outs, attrs, name);
      results.forEach((t, i) => this.define(t, outs[i]!));
      this.scope().graph.add(node);
      LOCATIONS.set(node, { file: this.file, line: first.startLine ?? 1, col: first.startColumn ?? 1 });
    });
  });

  // ---- attributes --------------------------------------------------------------------------

  private attrDict = this.RULE('attrDict', (): Attrs => {
    const attrs: Attrs = {};
    this.CONSUME(LBrace);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      const key = this.OR([{ ALT: () => this.CONSUME(Name) }, { ALT: () => this.CONSUME(StringLit) }]);
      this.CONSUME(Equals);
      const value = this.SUBRULE(this.attrValue);
      this.ACTION(() => {
        const k = key.tokenType === StringLit ? JSON.parse(key.image) as string : key.image;
        if (k in attrs) this.fail(key, `attribute '${k}' is given twice`);
        attrs[k] = value;
      });
    } });
    this.CONSUME(RBrace);
    return attrs;
  });

  private attrValue = this.RULE('attrValue', (): AttrValue => this.OR([
    { ALT: () => { const t = this.SUBRULE(this.number); return this.ACTION(() => numberValue(t)); } },
    { ALT: () => { const s = this.CONSUME(StringLit); return this.ACTION(() => JSON.parse(s.image) as string); } },
    { ALT: () => this.SUBRULE(this.list) },
    { ALT: () => {
      const items = this.SUBRULE(this.dense);
      this.CONSUME(Colon);
      const at = this.LA(1);
      const type = this.SUBRULE(this.tensorType);
      return this.ACTION(() => this.denseTensor(items, type, at));
    } },
    { ALT: () => this.SUBRULE(this.graph) },
  ]));

  private list = this.RULE('list', (): number[] | string[] => {
    const items: IToken[] = [];
    const open = this.CONSUME(LBracket);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      items.push(this.OR([{ ALT: () => this.SUBRULE(this.number) }, { ALT: () => this.CONSUME(StringLit) }]));
    } });
    this.CONSUME(RBracket);
    return this.ACTION(() => {
      const strings = items.filter((t) => t.tokenType === StringLit).length;
      if (strings > 0 && strings < items.length) this.fail(open, 'a list holds either numbers or strings');
      return strings ? items.map((t) => JSON.parse(t.image) as string) : items.map(numberValue);
    });
  });

  private number = this.RULE('number', (): IToken => this.OR([
    { ALT: () => this.CONSUME(NumberLit) },
    { ALT: () => this.CONSUME(KwNan) },
    { ALT: () => this.CONSUME(KwInf) },
    { ALT: () => this.CONSUME(NegInf) },
  ]));

  /** `dense<[…]>`: the element tokens; the type that follows gives them meaning. */
  private dense = this.RULE('dense', (): IToken[] => {
    const items: IToken[] = [];
    this.CONSUME(KwDense);
    this.CONSUME(LAngle);
    this.CONSUME(LBracket);
    this.MANY_SEP({ SEP: Comma, DEF: () => {
      items.push(this.OR([
        { ALT: () => this.SUBRULE(this.number) },
        { ALT: () => this.CONSUME(KwTrue) },
        { ALT: () => this.CONSUME(KwFalse) },
      ]));
    } });
    this.CONSUME(RBracket);
    this.CONSUME(RAngle);
    return items;
  });

  private denseTensor(items: IToken[], type: TensorType, at: IToken): Tensor {
    const dtype = storageDType(type.dtype);
    const shape = type.shape;
    if (!shape || !shape.every((d): d is number => typeof d === 'number')) this.fail(at, `dense data needs a static shape, got ${formatType(type)}`);
    const count = numel(shape as number[]);
    if (items.length !== count) this.fail(at, `dense data has ${items.length} elements but ${formatType(type)} holds ${count}`);
    const values = items.map((t) => this.element(t, dtype));
    return Tensor.from(dtype, shape as number[], values);
  }

  private element(t: IToken, dtype: DType): number | bigint {
    const isBool = t.tokenType === KwTrue || t.tokenType === KwFalse;
    if (dtype === 'bool') {
      if (!isBool) this.fail(t, `bool element must be true or false, found ${show(t)}`);
      return t.tokenType === KwTrue ? 1 : 0;
    }
    if (isBool) this.fail(t, `${dtype} element must be a number, found ${show(t)}`);
    if (isFloat(dtype)) return numberValue(t);
    if (isFloatToken(t)) this.fail(t, `${dtype} element must be an integer, found ${show(t)}`);
    return isBig(dtype) ? BigInt(t.image) : Number(t.image);
  }

  // ---- types -------------------------------------------------------------------------------

  tensorType = this.RULE('tensorType', (): TensorType => {
    const dtype = this.OR([
      { ALT: () => this.SUBRULE(this.quantType) },
      { ALT: () => { const t = this.CONSUME(Ident); return this.ACTION(() => this.dtype(t)); } },
    ]);
    const dims: Dim[] = [];
    let unranked = false;
    this.CONSUME(LBracket);
    this.OR1([
      { ALT: () => { this.CONSUME(Star); unranked = true; } },
      { ALT: () => this.MANY_SEP({ SEP: Comma, DEF: () => dims.push(this.SUBRULE(this.dim)) }) },
    ]);
    this.CONSUME(RBracket);
    return { dtype, shape: unranked ? undefined : dims };
  });

  /** A type with the token it starts at (for diagnostics about it). */
  private positionedType = this.RULE('positionedType', (): [IToken, TensorType] => {
    const at = this.LA(1);
    return [at, this.SUBRULE(this.tensorType)];
  });

  private dim = this.RULE('dim', (): Dim => this.OR([
    { ALT: () => {
      const t = this.CONSUME(NumberLit);
      return this.ACTION(() => {
        if (!/^[0-9]+$/.test(t.image)) this.fail(t, `dimension must be a non-negative integer, a name or ?, found ${show(t)}`);
        return Number(t.image);
      });
    } },
    { ALT: () => this.CONSUME(Name).image },
    { ALT: () => { const t = this.CONSUME(StringLit); return this.ACTION(() => JSON.parse(t.image) as string); } },
    { ALT: () => { this.CONSUME(Question); return '?'; } },
  ]));

  /** `q<i8, 0.05, 0, axis=1, group=32, expressed=f16>`; scale and zero may be `@key` references. */
  private quantType = this.RULE('quantType', (): QuantType => {
    this.CONSUME(KwQ);
    this.CONSUME(LAngle);
    const storage = this.CONSUME(Ident);
    this.CONSUME(Comma);
    const scale = this.OR([{ ALT: () => this.SUBRULE(this.number) }, { ALT: () => this.CONSUME(SymbolRef) }]);
    this.CONSUME1(Comma);
    const zero = this.OR1([{ ALT: () => this.CONSUME(NumberLit) }, { ALT: () => this.CONSUME1(SymbolRef) }]);
    const params: [IToken, IToken][] = [];
    this.MANY(() => {
      this.CONSUME2(Comma);
      const key = this.CONSUME1(Ident);
      this.CONSUME(Equals);
      params.push([key, this.OR2([{ ALT: () => this.CONSUME1(NumberLit) }, { ALT: () => this.CONSUME2(Ident) }])]);
    });
    this.CONSUME(RAngle);
    return this.ACTION(() => {
      const ref = (t: IToken): string | number => (t.tokenType === SymbolRef ? sigilName(t) : numberValue(t));
      let q: QuantType = { kind: 'quant', storage: this.dtype(storage), expressed: 'f32', scale: ref(scale), zero: ref(zero) };
      const seen = new Set<string>();
      for (const [key, value] of params) {
        if (seen.has(key.image)) this.fail(key, `quantized type parameter '${key.image}' is given twice`);
        seen.add(key.image);
        if (key.image === 'expressed') q = { ...q, expressed: this.dtype(value) };
        else if (key.image === 'axis' || key.image === 'group' || key.image === 'bits') {
          if (value.tokenType !== NumberLit || isFloatToken(value)) this.fail(value, `'${key.image}' must be an integer`);
          q = { ...q, [key.image]: Number(value.image) };
        } else this.fail(key, `unknown quantized type parameter '${key.image}' (expected axis, group, bits, expressed)`);
      }
      const narrow = q.bits === undefined ? undefined : narrowBitsError(q.storage, q.bits);
      if (narrow) this.fail(params.find(([k]) => k.image === 'bits')![1], narrow);
      return q;
    });
  });

  private dtype(t: IToken): DType {
    if (!isDType(t.image)) this.fail(t, `unknown element type '${t.image}'`);
    return t.image;
  }

  // ---- weights -----------------------------------------------------------------------------

  private weightsSection = this.RULE('weightsSection', () => {
    this.CONSUME(KwWeights);
    this.CONSUME(LBrace);
    this.MANY(() => {
      const key = this.CONSUME(SymbolRef);
      this.CONSUME(Equals);
      const at = this.LA(1);
      const type = this.SUBRULE(this.tensorType);
      const data = this.CONSUME(HexString);
      this.ACTION(() => this.weight(key, type, at, data));
    });
    this.CONSUME(RBrace);
  });

  private weight(keyTok: IToken, type: TensorType, at: IToken, data: IToken): void {
    const key = sigilName(keyTok);
    if (this.weights.has(key)) this.fail(keyTok, `weight @${key} is defined twice`);
    const dtype: ElemType = type.dtype;
    if (typeof dtype !== 'string') this.fail(at, 'weight data has a plain element type (the storage type)');
    const shape = type.shape;
    if (!shape || !shape.every((d): d is number => typeof d === 'number')) this.fail(at, `weight @${key} needs a static shape, got ${formatType(type)}`);
    const hex = data.image.slice(2, -1);
    const want = rawByteLength(dtype, numel(shape as number[]));
    if (hex.length !== 2 * want) this.fail(data, `weight @${key} has ${hex.length / 2} bytes of data but ${formatType(type)} needs ${want}`);
    this.weights.set(key, tensorFromBytes(dtype, shape as number[], Buffer.from(hex, 'hex')));
  }

  // ---- scopes ------------------------------------------------------------------------------

  private scope(): { graph: Graph; names: Map<string, Value> } {
    return this.scopes[this.scopes.length - 1]!;
  }

  private define(t: IToken, v: Value): Value {
    if (this.scopes.some((s) => s.names.has(v.name))) this.fail(t, `value %${v.name} is already defined`);
    this.scope().names.set(v.name, v);
    return v;
  }

  private lookup(t: IToken): Value {
    const name = sigilName(t);
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const v = this.scopes[i]!.names.get(name);
      if (v) return v;
    }
    return this.fail(t, `unknown value %${name} (values must be defined before use)`);
  }
}

let parser: IrParser | undefined;

/** Lex `text` and load the parser with it; lexing errors are diagnostics. */
function start(text: string, file: string): IrParser {
  const lexed = irLexer.tokenize(text);
  const err = lexed.errors[0];
  if (err) {
    throw new LutraError('parse', `unexpected character ${JSON.stringify(text[err.offset])}`, `${file}:${err.line ?? 1}:${err.column ?? 1}`);
  }
  parser ??= new IrParser();
  parser.load(lexed.tokens, file);
  return parser;
}

/** Throw the first syntax error of the last parse, positioned at its token (or the end of input). */
function reportSyntaxErrors(p: IrParser, text: string, file: string): void {
  const err = p.errors[0];
  if (!err) return;
  let t = err.token;
  if (t.tokenType === EOF || Number.isNaN(t.startLine)) {
    const lines = text.split('\n');
    t = { ...t, startLine: lines.length, startColumn: lines[lines.length - 1]!.length + 1 };
  }
  p.fail(t, err.message);
}

/** Parse one model in the text IR; every error is a one-line `parse` LutraError at `file:line:col`. */
export function parseModel(text: string, file = '<input>'): Model {
  const p = start(text, file);
  const model = p.model();
  reportSyntaxErrors(p, text, file);
  return model;
}

/** Parse a tensor type such as `f32[batch,3]` or `q<i8, 0.05, 0>[4]`; errors are diagnostics. */
export function parseType(text: string, file = '<input>'): TensorType {
  const p = start(text, file);
  const type = p.tensorType();
  reportSyntaxErrors(p, text, file);
  return type;
}

/** Like parseType, but undefined when `text` is not a valid type. */
export function parseOptionalType(text: string): TensorType | undefined {
  try {
    return parseType(text);
  } catch (e) {
    if (e instanceof LutraError) return undefined;
    throw e;
  }
}
