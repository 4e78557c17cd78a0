/**
 * The emoji images of the npm package emoji-datasource-google (Apache-2.0; a dev dependency), by
 * the package's `subcategory`: the labelled real images the evaluation and the tests use. One
 * place for the listing, so every user draws from the same ordered list (package sort order,
 * not file-system order) and seeded picks stay reproducible.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'emoji-datasource-google');
/** The 64-px PNGs. */
export const EMOJI_DIR = join(PACKAGE, 'img', 'google', '64');

interface EmojiEntry {
  image: string;
  subcategory: string;
  sort_order: number;
  has_img_google: boolean;
}

let entries: EmojiEntry[] | undefined;

/** File names (in {@link EMOJI_DIR}) of a subcategory's emoji that have an image, in the package's sort order. */
export function emojiFiles(subcategory: string): string[] {
  entries ??= JSON.parse(readFileSync(join(PACKAGE, 'emoji.json'), 'utf8')) as EmojiEntry[];
  return entries
    .filter((e) => e.subcategory === subcategory && e.has_img_google && existsSync(join(EMOJI_DIR, e.image)))
    .sort((a, b) => a.sort_order - b.sort_order)
    .map((e) => e.image);
}

/** The PNG bytes of one emoji file. */
export function emojiPng(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(EMOJI_DIR, file)));
}
