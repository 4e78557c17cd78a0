/** A fixed seed per image id (FNV-1a), so whatever the evaluation makes of an image (its augmented views, its cluttered scene) is the same in every run. */
export function idSeed(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
