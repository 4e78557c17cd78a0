/** The fuzzer's types (tests/helpers/fuzz.ts): its requests, the server state they target, its report. */
import type { BackboneManifest } from '../../shared/model/manifest.ts';
import type { Random } from '../../shared/util/random.ts';

/** Sends one request to the Worker: `path` includes the query. */
export type Fetcher = (path: string, init?: RequestInit) => Promise<Response>;

/** A real image to corrupt (fixtures: emoji PNGs, a photo-like JPEG). */
export interface FuzzImage {
  type: 'image/png' | 'image/jpeg';
  bytes: Uint8Array;
}

/** What the cases need to know about the server's state (made by {@link setupFuzz}). */
export interface FuzzContext {
  backbone: BackboneManifest;
  images: FuzzImage[];
  /** A valid token of account A, which stores {@link headId}. */
  token: string;
  accountId: string;
  /** A token of account A that was rotated away (revoked). */
  revokedToken: string;
  /** A valid token of account B, which stores nothing. */
  otherToken: string;
  /** A head stored for account A, and its ETag. */
  headId: string;
  headEtag: string;
  /** A fine-tuned model (head document with a `backboneTail`) stored for account A, if set up. */
  fineTuned?: { id: string; doc: Record<string, unknown> };
  /** The server's `OPERATOR_TOKEN`, when the operator API is on (more of its cases get past auth). */
  operatorToken?: string;
  /** Extra case makers (e.g. for routes added later), picked like the built-in ones. */
  extraCases?: CaseMaker[];
}

/** One fuzz request, and what it must get. */
export interface FuzzRequest {
  /** The case family, for the report. */
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | null;
  /** Statuses this case must get (besides the general checks), e.g. 413 for an amplification. */
  expect?: number[];
}

/** Makes one request from the seeded random source. */
export type CaseMaker = (r: Random, ctx: FuzzContext) => FuzzRequest;

/** One answer that broke a check. */
export interface FuzzFinding {
  kind: string;
  method: string;
  path: string;
  status: number;
  problem: string;
  detail?: string;
}

/** What a run sent, what it got, and what broke. */
export interface FuzzReport {
  requests: number;
  /** Count per status code. */
  byStatus: Record<number, number>;
  /** Count per case family. */
  byKind: Record<string, number>;
  status5xx: number;
  /** Writes that were refused (4xx) and whose storage snapshot was compared. */
  rejectedWritesChecked: number;
  /** Writes the server accepted (a random mutation that happened to be valid); not findings. */
  acceptedWrites: number;
  accepted: string[];
  healthChecks: number;
  findings: FuzzFinding[];
}

/** The options of a run (`runFuzz`, tests/helpers/fuzz.ts). */
export interface FuzzOptions {
  fetch: Fetcher;
  ctx: FuzzContext;
  count: number;
  seed: number;
  /** A canonical text of everything stored (D1 rows, R2 objects) that a write could change. */
  snapshot: () => Promise<string>;
  /** Health check and real prediction every this many requests (default 50). */
  healthEvery?: number;
  /** Requests in flight at once (default 1); snapshots are only compared when 1. */
  concurrency?: number;
}
