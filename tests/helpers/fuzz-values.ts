/**
 * The fuzzer's hostile values (tests/helpers/fuzz.ts): head documents near validity or broken,
 * fine-tuned tails broken, odd head ids and published names, bad authorization, mangled images,
 * an oversized body.
 */
import type { Random } from '../../shared/util/random.ts';
import type { FuzzContext, FuzzImage } from './fuzz-types.ts';
import { auth, base64url, int, pick, randomBytes, utf8, uuid } from './fuzz-random.ts';
import { headBytes, makeTestHead } from './heads.ts';

let oversized: Uint8Array | null = null;
/** One body just over the 8 MiB request limit (made once; starts with a real JPEG header). */
export function oversizedBody(ctx: FuzzContext): Uint8Array {
  if (!oversized) {
    oversized = new Uint8Array(8 * 1024 * 1024 + 1 + 4096);
    const jpeg = ctx.images.find((i) => i.type === 'image/jpeg') ?? ctx.images[0];
    if (jpeg) oversized.set(jpeg.bytes.subarray(0, Math.min(jpeg.bytes.length, oversized.length)));
  }
  return oversized;
}

/** A valid head document of account A's shape with a new id, as an object to break. */
export function validHead(r: Random, ctx: FuzzContext, id = uuid(r)): Record<string, unknown> {
  return makeTestHead(ctx.backbone, { id, seed: int(r, 1, 1000), hidden: 0, parts: ['flatten_1'], classes: ['yes', 'no'] }) as unknown as Record<string, unknown>;
}

/**
 * A head document that may or may not be valid: a real one (plain, or the fine-tuned model when set
 * up) with seeded changes the validator has to judge: odd but legal labels, input parts and
 * transforms, hidden layers, quantization, activations, extreme finite weights, `trainable` flags,
 * tail cuts and shapes, metrics. Whatever the validator accepts, the runtime must run (200).
 */
export function validishHead(r: Random, ctx: FuzzContext): { what: string; id: string; fineTuned: boolean; bytes: Uint8Array } {
  const id = uuid(r);
  const changes: string[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let d: Record<string, any>;
  const fineTuned = ctx.fineTuned !== undefined && r() < 0.35;
  if (fineTuned && ctx.fineTuned) {
    d = JSON.parse(JSON.stringify(ctx.fineTuned.doc)) as Record<string, unknown>;
    d['id'] = id;
    const tail = d['backboneTail'];
    const layers = tail.modelTopology.config?.layers ?? tail.modelTopology.model_config?.config?.layers ?? [];
    if (r() < 0.4) {
      for (const l of layers) if (l.config && r() < 0.5) l.config.trainable = r() < 0.5;
      changes.push('trainable flags');
    }
    if (r() < 0.3) {
      const shape = pick(r, [[7, 7, 160], [14, 14, 160], [7, 7, 161], [7, 7, 960]]);
      tail.cutShape = shape;
      if (r() < 0.7 && layers[0]?.config) layers[0].config.batch_input_shape = [null, ...shape];
      changes.push(`cutShape ${shape.join('x')}`);
    }
    if (r() < 0.2 && layers[0]?.config) {
      layers[0].config.dtype = pick(r, ['int32', 'float32', 'bool', 'float16']);
      changes.push(`input dtype ${String(layers[0].config.dtype)}`);
    }
  } else {
    const parts = ctx.backbone.embedding.parts.map((p) => p.name).filter(() => r() < 0.6);
    const classes = Array.from({ length: int(r, 2, 12) }, (_, i) => pick(r, [`c${i}`, `ü${i} ☃`, `${'x'.repeat(int(r, 1, 100))}${i}`, ` label ${i} `, `\u200b${i}`]));
    d = makeTestHead(ctx.backbone, { id, seed: int(r, 1, 1000), hidden: pick(r, [0, 0, 4, 16]), parts: parts.length ? parts : ['flatten_1'], classes, quantize: r() < 0.3, mean: r() < 0.5 }) as unknown as Record<string, unknown>;
    changes.push(`${classes.length} classes`);
  }
  const topLayers = d['modelTopology']?.config?.layers ?? d['modelTopology']?.model_config?.config?.layers ?? [];
  const last = topLayers[topLayers.length - 1];
  if (last?.config && r() < 0.3) {
    last.config.activation = pick(r, ['linear', 'relu', 'sigmoid', 'softmax', 'tanh', 'swish', 'mish', 'elu', 'selu', 'softplus', 'hardSigmoid']);
    changes.push(`activation ${String(last.config.activation)}`);
  }
  if (r() < 0.2) {
    // Extreme but finite weights: scores may overflow, and must still be answered.
    const length = atob(d['weightData'] as string).length;
    const floats = new Float32Array(Math.ceil(length / 4)).map((_, i) => (i % 2 ? 3.4e38 : -3.4e38));
    const bytes = new Uint8Array(floats.buffer, 0, length);
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
    d['weightData'] = btoa(text);
    changes.push('extreme weights');
  }
  if (r() < 0.3) {
    d['metrics'] = pick(r, [null, { accuracy: 0.5, perClass: {}, confusion: [], n: 0 }, { anything: [1, { deep: [2] }] }]);
    changes.push('metrics');
  }
  return { what: changes.join(', ') || 'unchanged', id, fineTuned, bytes: utf8(JSON.stringify(d)) };
}

/** Breaks a head document in one of many ways (each one invalid by construction). */
export function breakHead(r: Random, ctx: FuzzContext, doc: Record<string, unknown>): { what: string; bytes: Uint8Array } {
  const d = JSON.parse(JSON.stringify(doc)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const keys = Object.keys(d);
  const choice = int(r, 0, 17);
  switch (choice) {
    case 0: {
      const k = pick(r, keys);
      delete d[k];
      return { what: `missing ${k}`, bytes: headBytes(d) };
    }
    case 1: {
      const k = pick(r, keys);
      d[k] = pick(r, [null, 42, 'x', [], {}, true, -1, 1e308]);
      return { what: `wrong type for ${k}`, bytes: headBytes(d) };
    }
    case 2:
      d['extraField'] = { nested: [1, 2, 3] };
      return { what: 'unknown field', bytes: headBytes(d) };
    case 3: {
      // Huge class counts, with or without a model that matches.
      const n = pick(r, [1, 1001, 5000, 100_000]);
      d['classes'] = Array.from({ length: n }, (_, i) => `c${i}`);
      return { what: `${n} classes`, bytes: headBytes(d) };
    }
    case 4:
      d['classes'] = pick(r, [['a', 'a'], ['', 'b'], ['x'.repeat(101), 'y'], [1, 2], ['a', null]]);
      return { what: 'bad labels', bytes: headBytes(d) };
    case 5:
      d['backbone'] = pick(r, ['mobilenet_v2@0000000000000000', '', 'other@1', `${ctx.backbone.id}@${'f'.repeat(64)}`]);
      return { what: 'other backbone', bytes: headBytes(d) };
    case 6:
      // Weights that do not decode to the stated length, or are not base64.
      d['weightData'] = pick(r, ['', '!!!!', 'AAAA', base64url(randomBytes(r, 64)), 'A'.repeat(4 * 1000)]);
      return { what: 'bad weights', bytes: headBytes(d) };
    case 7: {
      // Finite-looking bytes with a NaN in the first kernel value (float32 0x7fc00000, little-endian).
      const w = d['weightData'] as string;
      const bin = atob(w.replace(/-/g, '+').replace(/_/g, '/'));
      const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
      bytes.set(pick(r, [[0, 0, 0xc0, 0x7f], [0, 0, 0x80, 0x7f], [0, 0, 0x80, 0xff]]), 4 * int(r, 0, 100));
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      d['weightData'] = /[-_]/.test(w) ? base64url(bytes) : btoa(s);
      return { what: 'non-finite weight', bytes: headBytes(d) };
    }
    case 8:
      return { what: 'not JSON', bytes: randomBytes(r, int(r, 0, 2000)) };
    case 9: {
      const depth = pick(r, [1000, 100_000, 1_000_000]);
      return { what: `nested ${depth} deep`, bytes: utf8('['.repeat(depth) + ']'.repeat(depth)) };
    }
    case 10:
      return { what: 'JSON of another shape', bytes: utf8(pick(r, ['null', '[]', '"head"', '1e999', '{}', '{"id":{"$ne":null}}', '{"__proto__":{"x":1}}'])) };
    case 11: {
      const full = headBytes(d);
      return { what: 'truncated', bytes: full.subarray(0, int(r, 1, full.length - 1)) };
    }
    case 12: {
      // Oversized: padded past the 8 MiB document limit (whitespace keeps it valid JSON).
      const text = JSON.stringify(d);
      const pad = new Uint8Array(8 * 1024 * 1024 + 10).fill(0x20);
      const out = new Uint8Array(pad.length + text.length);
      out.set(utf8(text.slice(0, -1)));
      out.set(pad, text.length - 1);
      out.set(utf8('}'), out.length - 1);
      return { what: 'over 8 MiB', bytes: out };
    }
    case 13: {
      // The model's first layer takes the wrong number of features / units do not match.
      const text = JSON.stringify(d).replace(/"units":\d+/, `"units":${pick(r, [0, 3, 99999, -1])}`).replace(/\[null,\d+\]/, `[null,${pick(r, [1, 2815, 2817, 0])}]`);
      return { what: 'layer sizes', bytes: utf8(text) };
    }
    case 14: {
      const text = JSON.stringify(d).replace(/"activation":"\w+"/, `"activation":"${pick(r, ['evil', 'Function', 'constructor', '__proto__'])}"`);
      return { what: 'unknown activation', bytes: utf8(text) };
    }
    case 15:
      if (r() < 0.5) {
        const spec = (d['weightSpecs'] as { shape: number[] }[])[0];
        if (spec) spec.shape = pick(r, [[1, 1], [], [2816, 2], [-1, 2], [1e9, 1e9]]);
        return { what: 'weight shapes', bytes: headBytes(d) };
      }
      d['backboneTail'] = pick(r, [{}, { cut: 'block_15_add' }, { cut: 'x', cutShape: [7, 7, 160], parts: [], modelTopology: {}, weightSpecs: [], weightData: '' }, null]);
      return { what: 'bogus backboneTail', bytes: headBytes(d) };
    case 16: {
      const text = JSON.stringify(d).replace(/"class_name":"Dense"/, `"class_name":"${pick(r, ['Conv2D', 'Lambda', 'Dens', ''])}"`);
      return { what: 'layer type', bytes: utf8(text) };
    }
    default: {
      // Flip a few bytes outside the weights: usually invalid JSON or an invalid field.
      const full = headBytes(d).slice();
      const wStart = new TextDecoder().decode(full).indexOf('"weightData"');
      for (let i = 0; i < int(r, 1, 4); i++) {
        const at = int(r, 0, Math.max(0, (wStart > 0 ? wStart : full.length) - 1));
        full[at] = pick(r, [0x22, 0x7b, 0x7d, 0x00, 0xff, 0x5c, 0x2c]);
      }
      return { what: 'corrupted bytes', bytes: full };
    }
  }
}

/** Odd head ids, as path segments (some already percent-encoded, some not). */
export function oddHeadId(r: Random, ctx: FuzzContext): string {
  return pick(r, [
    '..', '../..', '..%2F..%2Fv1%2Fmodels', '%2e%2e%2f%2e%2e%2fheads', '.%00.', '%00', '%', '%E0%A4%A', '%ff%fe', '%C0%AE%C0%AE',
    encodeURIComponent('ünïcødé-😀'), encodeURIComponent('\u202e' + ctx.headId), encodeURIComponent('𝔥𝔢𝔞𝔡'),
    ctx.headId.toUpperCase(), ` ${ctx.headId}`, `${ctx.headId}%20`, `${ctx.headId}/extra`, `${ctx.headId}/`, `${ctx.headId}%0d%0aX-Evil:1`,
    'a'.repeat(int(r, 200, 8000)), uuid(r).replace(/-/g, ''), `${uuid(r)}0`, 'content-safety', 'null', 'undefined', '__proto__', 'constructor',
    `heads%2F${ctx.accountId}%2F${ctx.headId}`, encodeURIComponent(`heads/${ctx.accountId}/${ctx.headId}`),
  ]);
}

/** Authorization headers that must never work. */
export function badAuth(r: Random, ctx: FuzzContext): Record<string, string> {
  const forged = `tnr_${base64url(randomBytes(r, 32))}`;
  return pick(r, [
    {},
    auth(ctx.revokedToken),
    auth(forged),
    auth(ctx.token.slice(0, -1)),
    auth(ctx.token + 'A'),
    auth(ctx.token.toUpperCase()),
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: `Basic ${btoa('user:pass')}` },
    { authorization: `Bearer ${ctx.token} ${ctx.token}` },
    { authorization: `bearer\t${forged}` },
    { authorization: `Bearer ${'x'.repeat(int(r, 100, 6000))}` },
    { authorization: `Bearer tnr_${'%00'.repeat(8)}` },
    { authorization: 'Bearer \u00ff\u00fe' },
    { authorization: `Token ${ctx.token}` },
  ]);
}

/** A mangled copy of a real image: truncated, bytes flipped, or both. */
export function mangleImage(r: Random, img: FuzzImage): { what: string; bytes: Uint8Array } {
  const b = img.bytes;
  const mode = int(r, 0, 4);
  if (mode === 0) return { what: 'truncated', bytes: b.slice(0, int(r, 0, b.length - 1)) };
  const out = b.slice();
  if (mode === 1 || mode === 2) {
    // Flip bytes in the headers (first 1 KiB) or anywhere.
    const span = mode === 1 ? Math.min(1024, out.length) : out.length;
    for (let i = 0, n = int(r, 1, 32); i < n; i++) out[int(r, 0, span - 1)] = Math.floor(r() * 256);
    return { what: mode === 1 ? 'header bytes flipped' : 'bytes flipped', bytes: out };
  }
  if (mode === 3) {
    // A run of zeros or 0xff in the middle (JPEG markers, PNG chunk lengths).
    const at = int(r, 0, out.length - 1);
    out.fill(pick(r, [0, 0xff]), at, Math.min(out.length, at + int(r, 1, 64)));
    return { what: 'run overwritten', bytes: out };
  }
  // Two files glued, or a file repeated.
  const glued = new Uint8Array(b.length * 2);
  glued.set(b);
  glued.set(b.slice().reverse(), b.length);
  return { what: 'glued', bytes: glued };
}

/** Published (operator) head names that are odd, taken, or not names at all. */
export function oddPublishedName(r: Random): string {
  return pick(r, [
    'content-safety', 'CONTENT-SAFETY', 'a', '-', 'a--b', '-lead', 'trail-', 'emoji kinds', 'emoji_kinds', '..', '%2e%2e', '%2e%2e%2fheads', 'x'.repeat(int(r, 60, 3000)),
    encodeURIComponent('ëmoji'), encodeURIComponent('😀'), '%00', '%E0%A4%A', 'null', '__proto__', 'constructor', uuid(r), 'fuzz-no-such-head',
  ]);
}

/** Breaks a fine-tuned model's `backboneTail` in one of several ways (each invalid). */
export function breakTail(r: Random, doc: Record<string, unknown>): { what: string; bytes: Uint8Array } {
  const d = JSON.parse(JSON.stringify(doc)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const tail = d['backboneTail'] as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const choice = int(r, 0, 7);
  if (choice === 0) {
    const k = pick(r, Object.keys(tail));
    delete tail[k];
    return { what: `tail without ${k}`, bytes: headBytes(d) };
  }
  if (choice === 1) tail['cut'] = pick(r, ['no_such_layer', 'block_1_expand', 'input_1', '', 'dense_3']);
  else if (choice === 2) tail['cutShape'] = pick(r, [[], [1, 1, 1], [7, 7, 160, 1], [-7, 7, 160], [1e9, 1e9, 1e9]]);
  else if (choice === 3) tail['parts'] = pick(r, [[], ['nope'], ['flatten_1', 'flatten_1'], [42]]);
  else if (choice === 4) {
    const w = tail['weightData'] as string;
    tail['weightData'] = pick(r, ['', w.slice(0, Math.floor(w.length / 2)), w.slice(0, -8) + 'AADAfw==', 'A'.repeat(64)]);
  } else if (choice === 5) {
    const spec = (tail['weightSpecs'] as { shape: number[] }[])[int(r, 0, (tail['weightSpecs'] as unknown[]).length - 1)];
    if (spec) spec.shape = pick(r, [[1], [...spec.shape, 1], spec.shape.map((n) => n + 1)]);
  } else if (choice === 6) {
    // A layer of the tail that is not the backbone's: another type or another configuration.
    const text = JSON.stringify(d)
      .replace(/"class_name":"Conv2D"/, `"class_name":"${pick(r, ['Dense', 'Lambda', 'Conv3D'])}"`)
      .replace(/"kernel_size":\[1,1\]/, `"kernel_size":[${pick(r, ['3,3', '0,0', '1e9,1'])}]`);
    return { what: 'tail layer changed', bytes: utf8(text) };
  } else {
    d['classes'] = ['only-one'];
  }
  return { what: `tail field ${choice}`, bytes: headBytes(d) };
}
