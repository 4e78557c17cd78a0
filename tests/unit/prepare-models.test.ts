/**
 * The install step: deterministic output, a manifest that matches the files, and a split model
 * (backbone + default head) that computes exactly what the original nsfwjs model computes.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadLayersModel, model as functionalModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../shared/model/manifest.ts';
import { BACKBONES_ENV, INCEPTION_V3, MOBILENET_INCEPTION, MOBILENET_V2, selectBackbones, selectPairs } from '../../scripts/model-spec.ts';
import { pairManifest } from '../../shared/model/backbone-pair.ts';
import { startNodeWasmBackend } from '../../scripts/node-backend.ts';
import { loadLocalModels, readManifest, type LocalModels } from '../../scripts/node-models.ts';
import { MANIFEST_FILE, MAX_ASSET_BYTES, PUBLIC_DIR, prepareModels, readSource } from '../../scripts/prepare-models.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Every file under `dir` with its hash, paths relative to `dir`. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = sha(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

describe('the backbones setting (TANNERIN_BACKBONES)', () => {
  it('prepares every backbone when unset or empty, the default (MobileNetV2) first', () => {
    expect(selectBackbones(undefined).map((s) => s.id)).toEqual(['mobilenet_v2', 'inception_v3']);
    expect(selectBackbones(' ').map((s) => s.id)).toEqual(['mobilenet_v2', 'inception_v3']);
  });

  it('prepares the listed ones, MobileNetV2 first whatever the order', () => {
    expect(selectBackbones('mobilenet_v2').map((s) => s.id)).toEqual(['mobilenet_v2']);
    expect(selectBackbones('inception_v3, mobilenet_v2').map((s) => s.id)).toEqual(['mobilenet_v2', 'inception_v3']);
  });

  it('refuses an unknown id, and a list without MobileNetV2 (the Worker runs it)', () => {
    expect(() => selectBackbones('mobilenet_v2,resnet50')).toThrow(/unknown backbone "resnet50" \(known: mobilenet_v2, inception_v3, mobilenet_v2\+inception_v3\)/);
    expect(() => selectBackbones('inception_v3')).toThrow(/mobilenet_v2 must be listed/);
  });

  it('serves the pair MobileNetV2 + InceptionV3 by default, else only when listed with both members', () => {
    expect(selectPairs(undefined)).toEqual([MOBILENET_INCEPTION]);
    expect(selectPairs('mobilenet_v2,inception_v3')).toEqual([]);
    expect(selectPairs('mobilenet_v2,inception_v3,mobilenet_v2+inception_v3')).toEqual([MOBILENET_INCEPTION]);
    expect(selectBackbones('mobilenet_v2,inception_v3,mobilenet_v2+inception_v3').map((s) => s.id)).toEqual(['mobilenet_v2', 'inception_v3']);
    expect(() => selectPairs('mobilenet_v2,mobilenet_v2+inception_v3')).toThrow(/needs its members listed too \(missing: inception_v3\)/);
  });
});

describe('prepare-models', () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'tannerin-a-')), mkdtempSync(join(tmpdir(), 'tannerin-b-'))];
  let manifest: Manifest;
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('writes byte-identical files on every run, and the same as the install step did', () => {
    // The install step's selection (the setting it ran with is the one the tests run with).
    const specs = selectBackbones(process.env[BACKBONES_ENV]);
    const pairs = selectPairs(process.env[BACKBONES_ENV]);
    manifest = prepareModels(specs, dirs[0], pairs);
    prepareModels(specs, dirs[1], pairs);
    const a = tree(dirs[0] as string);
    // models.json, each backbone's model.json + weights.bin, the default head's three files, CenterNet's two.
    expect(Object.keys(a).length).toBe(1 + 2 * specs.length + 3 + 2);
    expect(tree(dirs[1] as string)).toEqual(a);
    expect(tree(PUBLIC_DIR)).toMatchObject(a);
  });

  it('lists every prepared backbone in backbones[], the default first and equal to backbone', () => {
    expect(manifest.backbones?.[0]).toEqual(manifest.backbone);
    expect(manifest.backbone.id).toBe('mobilenet_v2');
    const only = prepareModels([MOBILENET_V2], dirs[1]);
    expect(only.backbones).toEqual([only.backbone]);
    // The default backbone's files do not depend on which others are prepared.
    expect(only.backbone).toEqual(manifest.backbone);
    expect(Object.keys(tree(dirs[1] as string)).filter((p) => p.includes('inception'))).toEqual([]);
  });

  it('lists the pair after its members when both are prepared: their parts shifted, no files, version from theirs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tannerin-p-'));
    try {
      const m = prepareModels([MOBILENET_V2, INCEPTION_V3], dir, [MOBILENET_INCEPTION]);
      const [mobilenet, inception, pair] = m.backbones ?? [];
      expect(m.backbones?.map((b) => b.id)).toEqual(['mobilenet_v2', 'inception_v3', 'mobilenet_v2+inception_v3']);
      if (!mobilenet || !inception || !pair) throw new Error('missing backbones');
      expect(pair).toEqual(pairManifest([mobilenet, inception]));
      expect(pair.members).toEqual([`mobilenet_v2@${mobilenet.version}`, `inception_v3@${inception.version}`]);
      expect(pair.version).toBe(mobilenet.version + inception.version);
      expect(pair.files).toEqual([]);
      expect(pair.embedding.size).toBe(2816 + 768);
      expect(pair.embedding.parts.map((p) => [p.name, p.offset, p.size])).toEqual([
        ['block_13_expand_relu', 0, 576],
        ['block_16_expand_relu', 576, 960],
        ['flatten_1', 1536, 1280],
        ['mixed7', 2816, 768],
      ]);
      // Without both members there is no pair.
      expect(prepareModels([MOBILENET_V2], dir, [MOBILENET_INCEPTION]).backbones?.map((b) => b.id)).toEqual(['mobilenet_v2']);
      expect(() => pairManifest([mobilenet, mobilenet])).toThrow(/embedding part "block_13_expand_relu" is in more than one backbone/);
      expect(() => pairManifest([mobilenet])).toThrow(/at least two/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('describes the files it wrote: sizes, hashes, content-addressed paths', () => {
    const files = [...manifest.backbone.files, ...manifest.heads.flatMap((h) => h.files)];
    for (const f of files) {
      const bytes = readFileSync(join(dirs[0] as string, f.path));
      expect(bytes.length).toBe(f.bytes);
      expect(sha(bytes)).toBe(f.sha256);
    }
    expect(manifest.backbone.files[0]?.path).toBe(`models/mobilenet_v2-${manifest.backbone.version}/model.json`);
    expect(JSON.parse(readFileSync(join(dirs[0] as string, MANIFEST_FILE), 'utf8'))).toEqual(manifest);
  });

  it('prepares InceptionV3 cut at mixed7, average pooled (768 floats), with no default head', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tannerin-c-'));
    try {
      const m = prepareModels([MOBILENET_V2, INCEPTION_V3], dir);
      const inception = m.backbones?.[1];
      expect(inception?.id).toBe('inception_v3');
      expect(inception?.inputSize).toEqual([299, 299]);
      expect(inception?.embedding).toEqual({ size: 768, parts: [{ name: 'mixed7', layer: 'mixed7', pooling: 'global-average', size: 768, offset: 0 }] });
      expect(inception?.files.map((f) => f.path)).toEqual([`models/inception_v3-${inception?.version}/model.json`, `models/inception_v3-${inception?.version}/weights.bin`]);
      expect(m.heads.map((h) => h.backbone)).toEqual([`mobilenet_v2@${m.backbone.version}`]);
      const json = JSON.parse(readFileSync(join(dir, inception?.files[0]?.path ?? ''), 'utf8')) as {
        modelTopology: { model_config: { config: { layers: { name: string }[] } } };
        weightsManifest: { weights: { shape: number[]; quantization?: { dtype: string } }[] }[];
      };
      const names = json.modelTopology.model_config.config.layers.map((l) => l.name);
      // Nothing above the cut: mixed8..mixed10 and nsfwjs's dense head are left out.
      expect(names).toContain('mixed7');
      expect(names.filter((n) => /^(mixed8|mixed9|mixed10|dense_\d)$/.test(n))).toEqual([]);
      const weights = json.weightsManifest[0]?.weights ?? [];
      expect(weights.every((w) => w.quantization?.dtype === 'uint8')).toBe(true);
      // ~9.0M of the source's 22.4M weights, one byte each on the wire.
      const count = weights.reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
      expect(count).toBeGreaterThan(8.9e6);
      expect(count).toBeLessThan(9.1e6);
      expect(inception?.files[1]?.bytes).toBe(count);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes no file larger than a Workers static asset may be', () => {
    const sizes = Object.keys(tree(dirs[0] as string)).map((p) => statSync(join(dirs[0] as string, p)).size);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_ASSET_BYTES);
  });

  it('keeps the weights uint8-quantized on the wire', () => {
    const json = JSON.parse(readFileSync(join(dirs[0] as string, manifest.backbone.files[0]?.path ?? ''), 'utf8')) as {
      weightsManifest: { weights: { quantization?: { dtype: string } }[] }[];
    };
    const weights = json.weightsManifest[0]?.weights ?? [];
    expect(weights.length).toBeGreaterThan(200);
    expect(weights.every((w) => w.quantization?.dtype === 'uint8')).toBe(true);
  });

  it('describes the embedding part by part', () => {
    const { embedding } = manifest.backbone;
    expect(embedding.size).toBe(2816);
    expect(embedding.parts.map((p) => [p.name, p.pooling, p.size, p.offset])).toEqual([
      ['block_13_expand_relu', 'global-max', 576, 0],
      ['block_16_expand_relu', 'global-max', 960, 576],
      ['flatten_1', 'none', 1280, 1536],
    ]);
    const head = manifest.heads[0];
    expect(head?.id).toBe('content-safety');
    expect(head?.classes).toEqual(['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy']);
    expect(head?.backbone).toBe(`mobilenet_v2@${manifest.backbone.version}`);
    expect(head?.input.parts).toEqual(['flatten_1']);
  });
});

describe('the split model computes what the original computes', () => {
  let original: LayersModel;
  let local: LocalModels;
  beforeAll(async () => {
    await startNodeWasmBackend();
    const { model, weights } = readSource(MOBILENET_V2);
    const group = model.weightsManifest[0];
    original = await loadLayersModel(
      tf.io.fromMemory({ modelTopology: model.modelTopology, weightSpecs: group?.weights, weightData: weights.slice().buffer }),
    );
    local = await loadLocalModels();
    expect(readManifest().backbone.version).toBe(local.backbone.manifest.version);
  });
  afterAll(() => {
    original.dispose();
    local.backbone.dispose();
  });

  it('embedding parts equal pooled original layers, and backbone + head equal the original scores', async () => {
    const probe = functionalModel({
      inputs: original.inputs,
      outputs: ['block_13_expand_relu', 'block_16_expand_relu', 'flatten_1', 'dense_3'].map((n) => original.getLayer(n).output as never),
    });
    const head = await local.head('content-safety');
    const before = tf.memory().numTensors;
    for (const seed of [1, 2, 3]) {
      const input = tf.tidy(() => tf.randomUniform([1, 224, 224, 3], 0, 1, 'float32', seed));
      const pixels = (await input.data()) as Float32Array;
      const [b13, b16, flat, scores] = tf.tidy(() => {
        const outs = probe.predict(input) as tf.Tensor[];
        return [tf.max(outs[0] as tf.Tensor, [1, 2]), tf.max(outs[1] as tf.Tensor, [1, 2]), outs[2] as tf.Tensor, outs[3] as tf.Tensor];
      }) as tf.Tensor[];
      const expected = new Float32Array([...(await b13!.data()), ...(await b16!.data()), ...(await flat!.data())]);
      const embedding = await local.backbone.embedPreprocessed(pixels);
      expect(embedding.length).toBe(2816);
      let maxDiff = 0;
      expected.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (embedding[i] as number)))));
      // The backbone runs folded (BN in the conv weights): float rounding differs from the layers
      // model's, within the folded executor's 1e-4 (tests/unit/folded-graph.test.ts).
      expect(maxDiff).toBeLessThan(1e-4);
      // Not all zero: a broken slice would still "match" a broken original.
      expect(expected.filter((v) => v > 0).length).toBeGreaterThan(500);

      const predictions = await head.predictFrozen({ embedding });
      const want = await scores!.data();
      for (const p of predictions) {
        const i = MOBILENET_V2.heads[0]!.classes.indexOf(p.label);
        expect(Math.abs(p.score - (want[i] as number))).toBeLessThan(1e-6);
      }
      tf.dispose([input, b13!, b16!, flat!, scores!]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
