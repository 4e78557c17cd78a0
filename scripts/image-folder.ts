/**
 * ImageFolder datasets for the CLI: `DIR/<class name>/*.{png,jpg,jpeg}`, the layout torchvision,
 * Keras and most labelling tools use. Scanning only reads directory entries; images are read and
 * decoded one at a time by {@link readFolderImage}, so a large folder never sits in memory.
 *
 * Everything wrong with the data is a {@link DataError} whose message names the path and says
 * what to do: the CLI prints it as is.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import { TannerinError } from '../shared/errors.ts';
import { decodeImage, type RgbaImage } from '../shared/image/decode.ts';

/** Bad input data (missing folder, empty class, unreadable image...): the message is for people. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}

/** Extensions read as images (compared lower-cased). Others are skipped and counted. */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

export interface FolderImage {
  /** Absolute path. */
  file: string;
  /** Path relative to the dataset root, `/`-separated (stable across machines, used in output). */
  path: string;
  /** The class folder's name. */
  label: string;
}

export interface ImageFolder {
  /** Absolute path of the dataset root. */
  root: string;
  /** Class folder names, sorted. */
  classes: string[];
  /** Every image, by class then file name. */
  images: FolderImage[];
  /** Files inside class folders skipped for their extension, and stray files at the top level. */
  skipped: string[];
}

export interface ScanOptions {
  /** Fewest classes accepted. Default 1; training needs 2. */
  minClasses?: number;
  /** What the folder is for, in messages ("training data", "unlabeled photos"). Default "data". */
  role?: string;
  /**
   * Unlabeled mode: images may sit directly in DIR or in any subfolder (labels are ignored and
   * set to ""), and there is no class structure to check.
   */
  unlabeled?: boolean;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isImageFile(name: string): boolean {
  return (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());
}

/** Directory entries, hidden ones (`.DS_Store`, `.git`) left out, sorted for a stable order. */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith('.'))
      .sort();
  } catch (error) {
    throw new DataError(`cannot read the folder ${dir}: ${(error as Error).message}`);
  }
}

/**
 * Lists an ImageFolder. Throws a DataError when the folder is missing, has no class folders, has
 * fewer than `minClasses` classes, or has a class folder without images: an empty class is almost
 * always a mistake (a typo, a failed copy), and training would silently lose the class.
 */
export function scanImageFolder(dir: string, options: ScanOptions = {}): ImageFolder {
  const { minClasses = 1, role = 'data', unlabeled = false } = options;
  const root = resolve(dir);
  if (!isDirectory(root)) {
    throw new DataError(`${role}: ${dir} is not a folder (expected ${dir}/<class name>/*.png|jpg|jpeg)`);
  }
  const rel = (file: string): string => relative(root, file).split('\\').join('/');
  const skipped: string[] = [];

  if (unlabeled) {
    const images: FolderImage[] = [];
    const walk = (folder: string): void => {
      for (const name of entries(folder)) {
        const file = join(folder, name);
        if (isDirectory(file)) walk(file);
        else if (isImageFile(name)) images.push({ file, path: rel(file), label: '' });
        else skipped.push(rel(file));
      }
    };
    walk(root);
    if (images.length === 0) throw new DataError(`${role}: ${dir} holds no .png, .jpg or .jpeg images`);
    return { root, classes: [], images, skipped };
  }

  const classes: string[] = [];
  const images: FolderImage[] = [];
  const empty: string[] = [];
  for (const name of entries(root)) {
    const folder = join(root, name);
    if (!isDirectory(folder)) {
      skipped.push(rel(folder));
      continue;
    }
    classes.push(name);
    let count = 0;
    for (const file of entries(folder)) {
      const path = join(folder, file);
      if (!isImageFile(file) || isDirectory(path)) {
        skipped.push(rel(path));
        continue;
      }
      images.push({ file: path, path: rel(path), label: name });
      count++;
    }
    if (count === 0) empty.push(name);
  }
  if (classes.length === 0) {
    throw new DataError(`${role}: ${dir} has no class folders (expected ${dir}/<class name>/*.png|jpg|jpeg)`);
  }
  if (empty.length) {
    throw new DataError(
      `${role}: class folder${empty.length > 1 ? 's' : ''} ${empty.map((c) => `"${c}"`).join(', ')} in ${dir} ` +
        `hold${empty.length > 1 ? '' : 's'} no .png, .jpg or .jpeg images (add images or remove the folder)`,
    );
  }
  if (classes.length < minClasses) {
    throw new DataError(
      `${role}: ${dir} has ${classes.length} class${classes.length === 1 ? '' : 'es'} (${classes.map((c) => `"${c}"`).join(', ')}); ` +
        `at least ${minClasses} are needed, one folder per class`,
    );
  }
  return { root, classes, images, skipped };
}

/**
 * Reads and decodes one image (PNG, or JPEG once `initNodeImageDecoder()` ran). Any failure is a
 * DataError naming the file and the reason (corrupt, unsupported format, too large, unreadable).
 */
export async function readFolderImage(image: FolderImage): Promise<RgbaImage> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(image.file));
  } catch (error) {
    throw new DataError(`${image.path}: cannot read the file: ${(error as Error).message}`);
  }
  try {
    return await decodeImage(bytes);
  } catch (error) {
    if (error instanceof TannerinError) throw new DataError(`${image.path}: ${error.message}`);
    throw error;
  }
}
