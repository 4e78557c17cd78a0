/**
 * `tannerin publish --head HEAD_DIR --as NAME [--url URL] [--replace]`: uploads a head as a default
 * head of a deployment through the Worker's operator API (`PUT /v1/operator/heads/<name>`), with
 * the operator token from `TANNERIN_OPERATOR_TOKEN`. The Worker validates it before storing it in
 * R2 + D1 and lists it in `/v1/models`; a shipped or already published name needs `--replace`.
 * No TF.js here: the server does every check, this only reads the folder and reports.
 */
import type { ErrorBody } from '../../shared/errors.ts';
import type { PublishedHeadSummary } from '../../shared/api/types.ts';
import { isDefaultHeadName } from '../../shared/head/validate.ts';
import { DataError } from '../image-folder.ts';
import type { Output } from './output.ts';
import { readHeadDir } from './head-dir.ts';

/** Where `npm start` serves the API. */
export const DEFAULT_URL = 'http://127.0.0.1:8787';
/** The environment variable the operator token is read from (never a command-line flag: shells log those). */
export const TOKEN_ENV = 'TANNERIN_OPERATOR_TOKEN';

export interface PublishArgs {
  head: string;
  as: string;
  url: string;
  replace: boolean;
}

/** A publish the server (or the network) refused: message printed, exit code 1. */
export class PublishError extends DataError {}

export async function publishCommand(args: PublishArgs, out: Output, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!isDefaultHeadName(args.as) || args.as.length > 64) {
    throw new DataError(`--as must be lowercase words joined by hyphens (e.g. emoji-kinds), at most 64 characters; got "${args.as}"`);
  }
  let base: URL;
  try {
    base = new URL(args.url);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new DataError(`--url must be an http(s) URL such as ${DEFAULT_URL}; got "${args.url}"`);
  }
  const token = env[TOKEN_ENV];
  if (!token) {
    throw new DataError(`set ${TOKEN_ENV} to the deployment's operator token (the Worker secret OPERATOR_TOKEN; for \`npm start\`, the one in .dev.vars)`);
  }
  const doc = readHeadDir(args.head);
  const body = JSON.stringify(doc);
  const target = new URL(`/v1/operator/heads/${args.as}${args.replace ? '?replace=1' : ''}`, base);
  out.info(`publishing ${args.head} (${doc.name}: ${doc.classes.length} classes, ${(body.length / 1024).toFixed(0)} KiB${doc.backboneTail ? ', fine-tuned' : ''}) as "${args.as}" to ${base.origin}`);
  let res: Response;
  try {
    res = await fetch(target, { method: 'PUT', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
  } catch (error) {
    throw new PublishError(`cannot reach ${base.origin}: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message} (is the server running? \`npm start\` serves ${DEFAULT_URL})`);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 500);
    try {
      message = (JSON.parse(text) as ErrorBody).error.message;
    } catch {
      // not the API's error shape: show the start of the body
    }
    const hint = res.status === 401 ? ` (check ${TOKEN_ENV})` : '';
    throw new PublishError(`the server refused the head (HTTP ${res.status}): ${message}${hint}`);
  }
  const summary = JSON.parse(text) as PublishedHeadSummary;
  const replaced = res.status === 200 ? `replaced version ${summary.version - 1}` : summary.shadowsShipped ? 'now served instead of the shipped head' : 'new';
  out.info(`published "${summary.name}" version ${summary.version} (${replaced}): classes ${summary.classes.join(', ')}`);
  out.info(`predict with it: curl --data-binary @photo.jpg -H 'content-type: image/jpeg' '${base.origin}/v1/predict?head=${summary.name}'`);
  out.result({ ...summary, url: base.origin, replaced: res.status === 200 });
}
