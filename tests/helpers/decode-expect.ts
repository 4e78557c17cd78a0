/** Expectations for the image decoder's tests (tests/unit/image-decode*.test.ts): errors and RGBA results. */
import { expect } from 'vitest';
import { TannerinError, type ErrorCode } from '../../shared/errors.ts';
import type { RgbaImage } from '../../shared/image/decode.ts';
import type { Rgba } from './images.ts';

/** Runs `fn`, requires a TannerinError with `code` (and message match), returns it. */
export function expectError(fn: () => unknown, code: ErrorCode, message?: RegExp): TannerinError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  return checkError(caught, code, message);
}

/** The same for a promise-returning `fn` (decodeImage). */
export async function expectRejection(fn: () => Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<TannerinError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  return checkError(caught, code, message);
}

function checkError(caught: unknown, code: ErrorCode, message?: RegExp): TannerinError {
  if (!(caught instanceof TannerinError)) {
    throw new Error(`expected TannerinError(${code}), got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
  }
  expect(caught.code).toBe(code);
  if (message) expect(caught.message).toMatch(message);
  return caught;
}

/** The result must be a plain, exactly sized, 0-offset Uint8Array (not a Buffer or a view). */
export function expectPlainRgba(image: RgbaImage, width: number, height: number): void {
  expect(image.width).toBe(width);
  expect(image.height).toBe(height);
  expect(image.data.constructor).toBe(Uint8Array);
  expect(image.data.byteOffset).toBe(0);
  expect(image.data.length).toBe(width * height * 4);
  expect(image.data.buffer.byteLength).toBe(width * height * 4);
}

/** Each channel of `actual` within `tolerance` of `expected` (shows both when not). */
export function expectClose(actual: Rgba, expected: Rgba, tolerance: number): void {
  const ok = actual.every((v, i) => Math.abs(v - (expected[i] ?? -999)) <= tolerance);
  if (!ok) expect(actual).toEqual(expected);
}
