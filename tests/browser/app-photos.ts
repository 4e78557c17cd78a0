/**
 * The photos the app tests teach and predict with, once for tests/browser/app-correct.test.ts and
 * tests/browser/cross-engine-app.test.ts: the classes and split of tests/browser/app.test.ts, 5
 * unlabeled photos of one taught class (none of the split's, so a test knows what each shows), and
 * a bird, a kind never taught (the model always names it wrongly).
 */
import { emojiSplit, type EmojiImage } from './emoji.ts';

export const CLASSES = ['heart', 'animal-mammal', 'transport-ground'];
const split = emojiSplit(CLASSES, 6, 2, 3);
/** The photos taught for `label`. */
export const train = (label: string): EmojiImage[] => split.train[label] as EmojiImage[];
/** The held-out photos of `label`. */
export const test = (label: string): EmojiImage[] => split.test[label] as EmojiImage[];
/** The class the unlabeled photos show. */
export const POOL_CLASS = 'transport-ground';
const used = new Set([...train(POOL_CLASS), ...test(POOL_CLASS)].map((e) => e.file));
/** 5 unlabeled photos of {@link POOL_CLASS}, none taught or held out. */
export const poolPhotos = (emojiSplit([POOL_CLASS], 0, 40, 18).test[POOL_CLASS] as EmojiImage[]).filter((e) => !used.has(e.file)).slice(0, 5);
/** A bird: a kind never taught. */
export const bird = (emojiSplit(['animal-bird'], 0, 1, 18).test['animal-bird'] as EmojiImage[])[0] as EmojiImage;
