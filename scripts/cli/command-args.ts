/**
 * The parsed options of the CLI's `embed`, `train` and `eval` commands: what scripts/cli/main.ts
 * builds from the command line and the commands (scripts/cli/commands.ts,
 * scripts/cli/finetune-command.ts) take.
 */

import type { FeatureMapCrop } from '../../shared/head/crop.ts';

/** `tannerin embed --data DIR --out FILE.jsonl`. */
export interface EmbedArgs {
  data: string;
  out: string;
}

/** `tannerin train`: a plain head, self-training (`unlabeled`) or fine-tuning (`recipe: 'finetune'`). */
export interface TrainArgs {
  /** Train on crops of the photos (`--crop featuremap`), recorded in the head so every runtime predicts crops. */
  crop?: FeatureMapCrop;
  data: string;
  out: string;
  recipe: 'head' | 'finetune';
  unlabeled?: string;
  epochs?: number;
  seed: number;
  name?: string;
  threshold?: number;
  rounds?: number;
  unfreeze: 1 | 2;
}

/** `tannerin eval --head HEAD_DIR --data DIR`. */
export interface EvalArgs {
  head: string;
  data: string;
}
