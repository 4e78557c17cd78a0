/**
 * The training example used everywhere: one embedding of one view of a photo. Augmented views
 * (flips, crops, ...) of a photo share its `photoId`, so splits can keep a photo's views together.
 */

export interface Example {
  /** Identifies the photo; all views of one photo share it. */
  photoId: string;
  label: string;
  /** The backbone's full embedding of this view. */
  embedding: Float32Array;
  /** False for the photo as taken; true for a view derived from it. */
  augmented: boolean;
}

/** The distinct labels, sorted, so that class order does not depend on example order. */
export function classList(examples: readonly Example[]): string[] {
  return [...new Set(examples.map((e) => e.label))].sort();
}

/**
 * The label of each photo, in first-seen order. Throws if two views of one photo disagree,
 * because a split by photo could not then be stratified.
 */
export function photoLabels(examples: readonly Example[]): Map<string, string> {
  const labels = new Map<string, string>();
  for (const e of examples) {
    const known = labels.get(e.photoId);
    if (known === undefined) labels.set(e.photoId, e.label);
    else if (known !== e.label) {
      throw new Error(`photo "${e.photoId}" has views labelled both "${known}" and "${e.label}"`);
    }
  }
  return labels;
}

/**
 * How many photos (default) or examples each label has. Counting photos is what matters for
 * class balance: augmented views add no new information about the class.
 */
export function classCounts(examples: readonly Example[], unit: 'photo' | 'example' = 'photo'): Map<string, number> {
  const counts = new Map<string, number>();
  const labels = unit === 'photo' ? [...photoLabels(examples).values()] : examples.map((e) => e.label);
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return counts;
}
