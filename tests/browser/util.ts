/** Small helpers shared by the browser tests. */
import { Buffer } from 'node:buffer';
import type { ModelsResponse, ServedBackbone } from '../../shared/api/types.ts';

/** An image file as the harness takes it (base64 + media type). */
export function imageArg(bytes: Uint8Array, type: 'image/png' | 'image/jpeg'): { base64: string; type: string } {
  return { base64: Buffer.from(bytes).toString('base64'), type };
}

/** Prints a measurement on one line (`tannerin-measure <name> <value> <unit> <note>`), for the bench. */
export function report(name: string, value: number, unit: string, note = ''): void {
  const shown = Number.isInteger(value) ? String(value) : Math.abs(value) < 0.1 ? value.toExponential(2) : value.toFixed(2);
  console.log(`tannerin-measure ${name} ${shown} ${unit}${note ? ` ${note}` : ''}`);
}

/** Largest absolute element-wise difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

/** A served backbone's reference, `id@version`, as the library names it. */
export const refOf = (b: ServedBackbone): string => `${b.id}@${b.version}`;

/** The Worker's manifest and its two backbones; throws when InceptionV3 is not served. */
export async function servedBackbonePair(baseUrl: string): Promise<{ manifest: ModelsResponse; mobilenet: ServedBackbone; inception: ServedBackbone }> {
  const manifest = (await (await fetch(`${baseUrl}/v1/models`)).json()) as ModelsResponse;
  const inception = manifest.backbones.find((b) => b.id === 'inception_v3');
  if (!inception) throw new Error('the Worker serves no inception_v3: prepare it (TANNERIN_BACKBONES, README)');
  return { manifest, mobilenet: manifest.backbone, inception };
}
