/**
 * JSON parsing with the cost bounded before `JSON.parse` runs. Parsing is the one step whose
 * memory is out of proportion to the input: 8 MiB of `[{},{},...]` holds ~171 MiB once parsed,
 * next to a ~69 MiB WASM heap in a 128 MiB isolate; and a document nested hundreds of thousands
 * of levels deep overflows the stack of any recursive walk over it. So one linear pass over the
 * text counts the structure (depth, tokens, string characters), and only a text within the limits
 * is handed to `JSON.parse`.
 */
import { TannerinError, type ErrorCode } from '../errors.ts';

/** Bounds on a JSON text's structure. */
export interface JsonLimits {
  /** Deepest nesting of arrays and objects (the top-level value is depth 1). */
  maxDepth: number;
  /**
   * Most structural tokens: `{`, `[`, `,` and `:` outside strings, i.e. about one per value and
   * one per object member. What a parsed value costs is mostly per value, not per byte.
   */
  maxTokens: number;
  /** Most bytes the parsed value may take, by {@link estimateParsedBytes}. */
  maxParsedBytes: number;
}

/** What one pass over a JSON text found. */
export interface JsonShape {
  depth: number;
  tokens: number;
  /** Characters inside strings (keys included). */
  stringChars: number;
}

/**
 * Bytes a JS engine holds for a parsed value of this shape, generously: ~64 bytes per token (an
 * object member or array slot with its boxed value and hidden-class share) and 2 bytes per string
 * character (two-byte strings). Measured in Node: `[{},...]` is ~60 bytes per `{}`.
 */
export function estimateParsedBytes(shape: JsonShape): number {
  return shape.tokens * 64 + shape.stringChars * 2;
}

/**
 * One linear pass over `text`: the nesting depth, structural tokens and string characters. Stops
 * counting as soon as `limits` is passed (the caller refuses the text anyway). Does not validate
 * JSON syntax; `JSON.parse` does that afterwards.
 */
export function measureJson(text: string, limits?: JsonLimits): JsonShape {
  let depth = 0;
  let maxDepth = 0;
  let tokens = 0;
  let stringChars = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote (escapes skip the next character).
      const start = ++i;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x22) break;
        i += d === 0x5c ? 2 : 1;
      }
      stringChars += i - start;
      i++;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      depth++;
      tokens++;
      if (depth > maxDepth) {
        maxDepth = depth;
        if (limits && maxDepth > limits.maxDepth) break;
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    } else if (c === 0x2c || c === 0x3a) {
      tokens++;
      if (limits && tokens > limits.maxTokens) break;
    }
    i++;
  }
  return { depth: maxDepth, tokens, stringChars };
}

/**
 * Parses `text` as JSON after checking its structure against `limits`. Throws a TannerinError with
 * `code` for a text over a limit (naming it); for text that is not JSON, `notJson(the parser's
 * message)`, by default a TannerinError with `code`. `what` names the document in messages ("The head document").
 */
export function parseBoundedJson(
  text: string,
  limits: JsonLimits,
  code: ErrorCode,
  what: string,
  notJson?: (detail: string) => TannerinError,
): unknown {
  return parseBoundedJsonShape(text, limits, code, what, notJson).value;
}

/** {@link parseBoundedJson}, also returning the shape it measured (for callers that size the value). */
export function parseBoundedJsonShape(
  text: string,
  limits: JsonLimits,
  code: ErrorCode,
  what: string,
  notJson: (detail: string) => TannerinError = (detail) => new TannerinError(code, `${what} is not JSON (${detail}).`),
): { value: unknown; shape: JsonShape } {
  const shape = measureJson(text, limits);
  if (shape.depth > limits.maxDepth) {
    throw new TannerinError(code, `${what} is nested more than ${limits.maxDepth} levels deep; the limit is ${limits.maxDepth}.`);
  }
  if (shape.tokens > limits.maxTokens) {
    throw new TannerinError(code, `${what} has more than ${limits.maxTokens} values and members; the limit is ${limits.maxTokens}.`);
  }
  const parsed = estimateParsedBytes(shape);
  if (parsed > limits.maxParsedBytes) {
    throw new TannerinError(code, `${what} would take about ${mib(parsed)} MiB once parsed; the limit is ${mib(limits.maxParsedBytes)} MiB.`);
  }
  try {
    return { value: JSON.parse(text) as unknown, shape };
  } catch (err) {
    throw notJson(err instanceof Error ? err.message : String(err));
  }
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(1);
}
