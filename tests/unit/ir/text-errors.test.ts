import { describe, expect, it } from 'vitest';
import { LutraError } from '../../../src/ir/index.js';
import { parseModel } from '../../../src/ir/text/index.js';

/** Parse `lines` as bad.lir and return the diagnostic it raises. */
function parseError(...lines: string[]): LutraError {
  try {
    parseModel(lines.join('\n'), 'bad.lir');
  } catch (e) {
    expect(e).toBeInstanceOf(LutraError);
    const err = e as LutraError;
    expect(err.code).toBe('parse');
    expect(err.message).not.toContain('\n');
    return err;
  }
  throw new Error('expected a parse error');
}

const HEAD = 'graph @g(%x: f32[2]) -> f32[2] {';

describe('text IR parse errors', () => {
  const cases: [string, string[], string, RegExp][] = [
    ['a missing parenthesis', ['graph @g(%x: f32[2] -> f32[2] {', '  return %x', '}'], 'bad.lir:1:21', /expected '\)', found '->'/],
    ['a stray character', [HEAD, '  %y = onnx.Relu(%x) # : f32[2]', '  return %y', '}'], 'bad.lir:2:22', /unexpected character "#"/],
    ['an unknown value', [HEAD, '  %y = onnx.Relu(%z) : f32[2]', '  return %y', '}'], 'bad.lir:2:18', /unknown value %z/],
    ['a use before definition', [HEAD, '  %a = onnx.Relu(%b) : f32[2]', '  %b = onnx.Relu(%x) : f32[2]', '  return %a', '}'], 'bad.lir:2:18', /unknown value %b \(values must be defined before use\)/],
    ['a value used by its own definition', [HEAD, '  %a = onnx.Relu(%a) : f32[2]', '  return %a', '}'], 'bad.lir:2:18', /unknown value %a/],
    ['a duplicate value name', [HEAD, '  %x = onnx.Relu(%x) : f32[2]', '  return %x', '}'], 'bad.lir:2:3', /value %x is already defined/],
    ['a subgraph shadowing an outer value', ['graph @g(%x: f32[2], %c: bool[]) -> f32[2] {',
      '  %y = onnx.If(%c) {then_branch = graph @t() -> f32[2] {', '    %x = onnx.Relu(%x) : f32[2]', '    return %x', '  }} : f32[2]', '  return %y', '}'],
    'bad.lir:3:5', /value %x is already defined/],
    ['an unknown element type', ['graph @g(%x: f33[2]) -> f32[2] {', '  return %x', '}'], 'bad.lir:1:14', /unknown element type 'f33'/],
    ['an unknown quantized type parameter', ['graph @g(%x: q<i8, 0.5, 0, axes=1>[2]) -> f32[2] {', '  return %x', '}'], 'bad.lir:1:28', /unknown quantized type parameter 'axes'/],
    ['a negative dimension', ['graph @g(%x: f32[-2]) -> f32[2] {', '  return %x', '}'], 'bad.lir:1:18', /dimension must be a non-negative integer/],
    ['a result type count mismatch', [HEAD, '  %a, %b = onnx.Split(%x) : f32[1]', '  return %a', '}'], 'bad.lir:2:27', /onnx.Split defines 2 values but lists 1 result types/],
    ['a return that contradicts the signature', [HEAD, '  %y = onnx.Cast(%x) {to = 7} : i64[2]', '  return %y', '}'], 'bad.lir:1:25', /result 0 is declared f32\[2\] but %y is i64\[2\]/],
    ['a return count mismatch', [HEAD, '  return %x, %x', '}'], 'bad.lir:2:3', /declares 1 results but returns 2/],
    ['dense data of the wrong length', [HEAD, '  %c = const dense<[1.0, 2.0, 3.0]> : f32[2]', '  return %c', '}'], 'bad.lir:2:39', /dense data has 3 elements but f32\[2\] holds 2/],
    ['a float in integer dense data', [HEAD, '  %c = const dense<[1.5]> : i32[1]', '  return %x', '}'], 'bad.lir:2:21', /i32 element must be an integer, found '1.5'/],
    ['a number in bool dense data', [HEAD, '  %c = const dense<[1]> : bool[1]', '  return %x', '}'], 'bad.lir:2:21', /bool element must be true or false/],
    ['dense data with a symbolic shape', [HEAD, '  %c = const dense<[1]> : f32[n]', '  return %x', '}'], 'bad.lir:2:27', /dense data needs a static shape/],
    ['a const with two results', [HEAD, '  %a, %b = const @k : f32[2]', '  return %x', '}'], 'bad.lir:2:12', /const defines exactly one value, got 2/],
    ['a duplicate attribute', [HEAD, '  %y = onnx.Relu(%x) {a = 1, a = 2} : f32[2]', '  return %y', '}'], 'bad.lir:2:30', /attribute 'a' is given twice/],
    ['a list mixing numbers and strings', [HEAD, '  %y = onnx.Relu(%x) {a = [1, "b"]} : f32[2]', '  return %y', '}'], 'bad.lir:2:27', /either numbers or strings/],
    ['an unknown model field', ['model {opset = 3}', HEAD, '  return %x', '}'], 'bad.lir:1:8', /unknown model field 'opset'/],
    ['a badly typed model field', ['model {ir_version = "8"}', HEAD, '  return %x', '}'], 'bad.lir:1:8', /'ir_version' must be an integer/],
    ['weight data of the wrong length', [HEAD, '  return %x', '}', 'weights {', '  @w = f32[2] x"0000803f"', '}'], 'bad.lir:5:15', /weight @w has 4 bytes of data but f32\[2\] needs 8/],
    ['a weight defined twice', [HEAD, '  %w = const dense<[1.0]> : f32[1]', '  return %x', '}', 'weights {', '  @w = f32[1] x"0000803f"', '}'], 'bad.lir:6:3', /weight @w is defined twice/],
    ['a quantized weight entry', [HEAD, '  return %x', '}', 'weights {', '  @w = q<i8, 0.5, 0>[1] x"00"', '}'], 'bad.lir:5:8', /plain element type/],
    ['input that ends early', [HEAD, '  %y = onnx.Relu(%x) : f32[2]'], 'bad.lir:2:30', /^bad.lir:2:30: expected 'return', found end of input$/],
    ['text after the model', [HEAD, '  return %x', '}', 'graph'], 'bad.lir:4:1', /unexpected 'graph' where the input should end/],
    ['a missing return', [HEAD, '}'], 'bad.lir:2:1', /expected 'return', found '\}'/],
  ];

  it.each(cases)('reports %s at its line and column', (_what, lines, location, message) => {
    const err = parseError(...lines);
    expect(err.location).toBe(location);
    expect(err.message).toMatch(message);
    expect(err.message.startsWith(`${location}: `)).toBe(true);
  });

  it('names <input> when no file is given', () => {
    expect(() => parseModel('graph')).toThrow(/^<input>:1:6: expected an @name, found end of input$/);
  });
});
