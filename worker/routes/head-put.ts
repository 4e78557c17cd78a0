/**
 * `PUT /v1/heads/:id`: creates a head (`If-None-Match: *`) or replaces it (`If-Match: "<etag>"`).
 * A write without either is refused (428), and so is `If-Match: *`, so no update can silently
 * overwrite one the client has not seen. The body is validated completely
 * (shared/head/validate.ts) before anything is stored; a rejected write changes nothing.
 */
import type { Context } from 'hono';
import { HEAD_TYPE } from '../../shared/api/types.ts';
import { TannerinError } from '../../shared/errors.ts';
import { sha256Hex } from '../../shared/util/hash.ts';
import { needsBackboneLayers, pairRefusal } from '../../shared/head/backbone-layers.ts';
import { isHeadId, parseHeadDocument, validateHeadDocument } from '../../shared/head/validate.ts';
import { HEAD_LIMITS } from '../../shared/limits.ts';
import { servedBackbone } from '../../shared/model/manifest.ts';
import { callerOfContext } from '../http/auth.ts';
import type { AppEnv } from '../env.ts';
import { matchesStrong, parseEtagCondition, quoteEtag } from '../http/etag.ts';
import { getBackboneModelJson, getManifest } from '../inference/model-runtime.ts';
import { quotas, type QuotaVars } from '../store/quotas.ts';
import { mediaType, readBody } from '../http/read-body.ts';
import { createHead, findHead, headSummary, preconditionFailed, updateHead, type AccountQuota, type HeadRow, type HeadUpload } from '../store/heads.ts';

/** The configured per-account quotas (head count, stored bytes). */
export function accountQuota(env: QuotaVars): AccountQuota {
  const q = quotas(env);
  return { maxHeads: q.maxHeadsPerAccount, maxBytes: q.maxAccountBytes };
}

/** What the request's conditional headers ask for. */
type WriteMode = { create: true } | { create: false; ifMatch: string[] };

function writeMode(c: Context<AppEnv>): WriteMode {
  const ifMatch = parseEtagCondition(c.req.header('if-match') ?? null, 'If-Match');
  const ifNoneMatch = parseEtagCondition(c.req.header('if-none-match') ?? null, 'If-None-Match');
  if (ifMatch && ifNoneMatch) throw new TannerinError('invalid_request', 'Send either If-None-Match: * (create) or If-Match (update), not both.');
  if (ifNoneMatch) {
    if (ifNoneMatch !== '*') throw new TannerinError('invalid_request', 'On PUT, If-None-Match must be * (create only if the head does not exist).');
    return { create: true };
  }
  if (ifMatch === '*' || (ifMatch && ifMatch.length === 0)) {
    throw new TannerinError('precondition_required', 'If-Match must name the ETag of the version being replaced (If-Match: * would overwrite blindly).');
  }
  if (!ifMatch) {
    throw new TannerinError(
      'precondition_required',
      'A head write needs a precondition: If-None-Match: * to create, or If-Match: "<etag>" (from GET or the last PUT) to update.',
    );
  }
  return { create: false, ifMatch };
}

/** Handler factory for `PUT /v1/heads/:id`: 201 (created) or 200 (updated), with the head's index entry and ETag. */
export function putHeadRoute() {
  return async (c: Context<AppEnv>) => {
    const caller = callerOfContext(c);
    const id = c.req.param('id') ?? '';
    if (!isHeadId(id)) throw new TannerinError('invalid_request', `Head ids are lowercase UUIDs (crypto.randomUUID()); got "${id.slice(0, 80)}".`);
    const mode = writeMode(c);
    if (mediaType(c.req.raw) !== HEAD_TYPE) throw new TannerinError('unsupported_media_type', `Send the head document as ${HEAD_TYPE}.`);
    const bytes = await readBody(c.req.raw, HEAD_LIMITS.maxDocumentBytes);
    const manifest = await getManifest(c.env);
    const parsed = parseHeadDocument(bytes);
    // Heads for any served backbone are stored (only the default runs at the edge), each checked
    // against its own backbone; one for a backbone not served is refused against the default (409).
    const claimed = typeof parsed === 'object' && parsed !== null && 'backbone' in parsed ? String(parsed.backbone) : '';
    const backbone = servedBackbone(manifest, claimed) ?? manifest.backbone;
    // A pair (shared/model/backbone-pair.ts) has no layers of its own a tail or a crop could read.
    const refused = pairRefusal(parsed, backbone);
    if (refused) throw refused;
    // Fine-tuned models and crop heads are checked against the backbone's own layers (its tail's,
    // the crop's layer, so a bad one is a 422 here, not at predict time); plain heads need no file.
    const needsLayers = needsBackboneLayers(parsed);
    const head = validateHeadDocument(parsed, backbone, needsLayers ? { backboneModel: await getBackboneModelJson(c.env, backbone) } : {});
    if (head.doc.id !== id) throw new TannerinError('invalid_head', `Invalid head document: its id ${head.doc.id} is not the id in the URL (${id}).`);
    const upload: HeadUpload = { head, bytes, etag: await sha256Hex(bytes) };

    const now = c.get('now')();
    const current = await findHead(c.env.DB, caller.accountId, id);
    let row: HeadRow;
    if (mode.create) {
      if (current) throw preconditionFailed(current, `Head ${id} already exists (If-None-Match: * failed).`);
      row = await createHead(c.env.DB, c.env.HEADS, caller.accountId, upload, accountQuota(c.env), now);
    } else {
      // Another account's head of this id is not seen: updating it is a 404 like any unknown head.
      if (!current) throw new TannerinError('not_found', `Unknown head "${id}"; create it with If-None-Match: *.`);
      if (!matchesStrong(mode.ifMatch, current.etag)) throw preconditionFailed(current, `If-Match does not match head ${id}.`);
      // Same bytes as stored (e.g. a retried PUT): nothing to write.
      row = current.etag === upload.etag ? current : await updateHead(c.env.DB, c.env.HEADS, current, upload, accountQuota(c.env), now);
    }
    c.header('etag', quoteEtag(row.etag));
    c.header('cache-control', 'no-store');
    if (mode.create) c.header('location', `/v1/heads/${id}`);
    return c.json(headSummary(row), mode.create ? 201 : 200);
  };
}
