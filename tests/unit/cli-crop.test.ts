/**
 * `tannerin train --crop featuremap` (issue 17 point 2: how a crop head is made in this
 * increment): the head is trained on the photos' feature-map crops, its document records the crop
 * (formatVersion 2) in head.json and in the standard files, and `tannerin eval` predicts each
 * photo's crop through the prediction layer. Bad crop options are usage errors (exit 2).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadDocument } from '../../shared/head/document.ts';
import { mulberry32, shuffle } from '../../shared/util/random.ts';
import { EMOJI_DIR, emojiFiles } from '../../scripts/emoji.ts';
import { expectNoStack, runCli } from '../helpers/cli.ts';

const CLASSES = ['food-fruit', 'transport-ground'];

let dir: string;
let train: string;
let test: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tannerin-cli-crop-'));
  train = join(dir, 'train');
  test = join(dir, 'test');
  const random = mulberry32(11);
  for (const label of CLASSES) {
    for (const [k, file] of shuffle(emojiFiles(label), random).slice(0, 6).entries()) {
      const to = join(k < 4 ? train : test, label);
      mkdirSync(to, { recursive: true });
      copyFileSync(join(EMOJI_DIR, file), join(to, file));
    }
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tannerin train --crop featuremap', () => {
  it('records the crop in the head, and eval predicts crops', async () => {
    const head = join(dir, 'head');
    const trained = await runCli(['train', '--data', train, '--out', head, '--seed', '1', '--crop', 'featuremap', '--crop-pad', '0.2', '--json']);
    expect(trained.code, trained.stderr).toBe(0);
    const summary = JSON.parse(trained.stdout.trim().split('\n').pop() as string) as { crop?: unknown };
    const crop = { method: 'featuremap', layer: 'out_relu', threshold: 0.5, pad: 0.2 };
    expect(summary.crop).toEqual(crop);
    const doc = JSON.parse(readFileSync(join(head, 'head.json'), 'utf8')) as HeadDocument;
    expect(doc).toMatchObject({ formatVersion: 2, crop });
    const modelJson = JSON.parse(readFileSync(join(head, 'model.json'), 'utf8')) as { userDefinedMetadata: { tannerin: { crop: unknown; formatVersion: number } } };
    expect(modelJson.userDefinedMetadata.tannerin).toMatchObject({ crop, formatVersion: 2 });

    const evaluated = await runCli(['eval', '--head', head, '--data', test]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(evaluated.stdout).toContain('crop: each photo cut to the box its out_relu feature map gives');
    expect(evaluated.stderr).toContain('backbone (featuremap crop): done');
    expect(evaluated.stdout).toMatch(/^accuracy \d+\.\d% \(\d+\/4; 95% CI/m);
  }, 300_000);

  it('bad crop options exit 2 with a clear message', async () => {
    const runs = await Promise.all([
      runCli(['train', '--data', train, '--out', join(dir, 'x'), '--crop', 'detector']),
      runCli(['train', '--data', train, '--out', join(dir, 'x'), '--crop', 'featuremap', '--crop-threshold', '0']),
      runCli(['train', '--data', train, '--out', join(dir, 'x'), '--crop-pad', '0.1']),
      runCli(['train', '--data', train, '--out', join(dir, 'x'), '--crop', 'featuremap', '--recipe', 'finetune']),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2]);
    expect(runs[0]?.stderr).toMatch(/--crop detector is not available yet/);
    expect(runs[1]?.stderr).toMatch(/--crop-threshold must be a number in \(0, 1\]/);
    expect(runs[2]?.stderr).toMatch(/--crop-pad go\(es\) with --crop featuremap/);
    expect(runs[3]?.stderr).toMatch(/--crop goes with --recipe head/);
    for (const run of runs) expectNoStack(run);
  }, 300_000);
});
