/**
 * The head object and checkpoint manifests of the log-structured layout.
 *
 * - `queue.json` (the head) is small, human-readable JSON and changes only by
 *   compare-and-swap: the leader's epoch and identity, and a pointer to the
 *   latest checkpoint manifest. Log records after that checkpoint's sequence
 *   number complete the state.
 * - `checkpoints/<seq>-<epoch>.json` (a manifest) names the segment objects
 *   that hold the state's jobs as of log record `seq`, plus the counters, the
 *   next job sequence number, and an index of recent archive objects.
 *
 * Pure: encoding and decoding only.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import { isCount, isObject } from "../core/job_codec.ts";
import type { BrokerIdentity, QueueState } from "../core/state.ts";
import type { JsonValue, QueueTotals } from "../protocol/operations.ts";

/** The `format` field of the head. */
export const HEAD_FORMAT = "osqueue-head";
/** The `format` field of a checkpoint manifest. */
export const CHECKPOINT_FORMAT = "osqueue-checkpoint";
/** The layout version the head and manifests carry. */
export const LAYOUT_VERSION = 2;

/** The head object. */
export interface Head {
  /** The leader epoch: bumped by every takeover. */
  epoch: number;
  /** The leader, or null after a graceful stop (the next broker takes over at once). */
  leader: BrokerIdentity | null;
  /** The latest checkpoint (none yet: the log starts at 1 on an empty queue). */
  checkpoint: { seq: number; key: string } | null;
}

/** What the head key held when a broker read it: nothing, a version-1 state to migrate, or a head. */
export type Opened =
  | { kind: "absent" }
  | { kind: "v1"; state: QueueState; etag: string }
  | { kind: "head"; head: Head; etag: string };

/** An archive object the state still remembers, for `get` of archived jobs. */
export interface ArchiveRef {
  /** The archive object's key. */
  key: string;
  /** Smallest job sequence number in it. */
  min: number;
  /** Largest job sequence number in it. */
  max: number;
}

/** A checkpoint manifest. */
export interface Manifest {
  /** The last log sequence number the checkpoint includes. */
  seq: number;
  /** That record's epoch. */
  epoch: number;
  /** That record's writer. */
  leader: BrokerIdentity | null;
  /** The next job sequence number. */
  nextSeq: number;
  /** The counters. */
  totals: QueueTotals;
  /** Segment number → the object holding its jobs, how many jobs and bytes it holds. */
  segments: { segment: number; key: string; jobs: number; bytes: number }[];
  /** The most recent archive objects, oldest first. */
  archives: ArchiveRef[];
  /** The state's `extra` values. */
  extra: Record<string, JsonValue>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The key of a checkpoint manifest. */
export function manifestKey(prefix: string, seq: number, epoch: number): string {
  return `${prefix}checkpoints/${String(seq).padStart(12, "0")}-${
    String(epoch).padStart(8, "0")
  }.json`;
}

/** The key of a segment object written for the checkpoint at `seq` in `epoch`. */
export function segmentKey(prefix: string, segment: number, seq: number, epoch: number): string {
  return `${prefix}segments/${String(segment).padStart(8, "0")}-${String(seq).padStart(12, "0")}-${
    String(epoch).padStart(8, "0")
  }.json`;
}

/** The checkpoint sequence number in a segment or manifest key, or undefined. */
export function checkpointSeqOfKey(key: string): number | undefined {
  const match = /(?:segments\/\d{8}-|checkpoints\/)(\d{12})-\d{8}\.json$/.exec(key);
  return match === null ? undefined : Number(match[1]);
}

/** The head's bytes (indented JSON: people read it). */
export function encodeHead(head: Head): Uint8Array {
  return encoder.encode(
    JSON.stringify(
      {
        format: HEAD_FORMAT,
        version: LAYOUT_VERSION,
        epoch: head.epoch,
        leader: head.leader,
        checkpoint: head.checkpoint,
      },
      null,
      2,
    ) + "\n",
  );
}

/** What the head key holds: a head, or a version-1 single-object state to migrate. */
export type HeadContent = { kind: "head"; head: Head } | { kind: "v1" };

/** Reads the head key's bytes; throws an {@linkcode InvalidError} saying what is wrong. */
export function decodeHead(bytes: Uint8Array): HeadContent {
  const raw = parse(bytes, "head");
  if (raw.format === "osqueue-state" && raw.version === 1) return { kind: "v1" };
  if (raw.format !== HEAD_FORMAT) {
    throw new InvalidError(
      `invalid state: head format ${JSON.stringify(raw.format)} is not ${HEAD_FORMAT}`,
    );
  }
  if (raw.version !== LAYOUT_VERSION) {
    throw new InvalidError(
      `unsupported head version ${
        JSON.stringify(raw.version)
      }: this osqueue reads version ${LAYOUT_VERSION}`,
    );
  }
  if (!isCount(raw.epoch)) throw new InvalidError("invalid state: head: bad epoch");
  const leader = restoreIdentity(raw.leader, "head: leader");
  let checkpoint: Head["checkpoint"] = null;
  if (raw.checkpoint !== null) {
    const c = raw.checkpoint;
    if (!isObject(c) || !isCount(c.seq) || typeof c.key !== "string") {
      throw new InvalidError("invalid state: head: bad checkpoint");
    }
    checkpoint = { seq: c.seq, key: c.key };
  }
  return { kind: "head", head: { epoch: raw.epoch, leader, checkpoint } };
}

/** A manifest's bytes. */
export function encodeManifest(manifest: Manifest): Uint8Array {
  return encoder.encode(JSON.stringify({
    format: CHECKPOINT_FORMAT,
    version: LAYOUT_VERSION,
    seq: manifest.seq,
    epoch: manifest.epoch,
    leader: manifest.leader,
    nextSeq: manifest.nextSeq,
    totals: manifest.totals,
    segments: manifest.segments.map((s) => [s.segment, s.key, s.jobs, s.bytes]),
    archives: manifest.archives.map((a) => [a.key, a.min, a.max]),
    extra: manifest.extra,
  }));
}

/** Reads a manifest; throws an {@linkcode InvalidError} naming `where`. */
export function decodeManifest(bytes: Uint8Array, where: string): Manifest {
  const raw = parse(bytes, where);
  const bad = (what: string): never => {
    throw new InvalidError(`invalid state: ${where}: bad ${what}`);
  };
  if (raw.format !== CHECKPOINT_FORMAT || raw.version !== LAYOUT_VERSION) bad("format");
  if (!isCount(raw.seq)) bad("seq");
  if (!isCount(raw.epoch)) bad("epoch");
  if (!isCount(raw.nextSeq) || (raw.nextSeq as number) < 1) bad("nextSeq");
  if (!isObject(raw.totals) || !Object.values(raw.totals).every(isCount)) bad("totals");
  if (!Array.isArray(raw.segments)) bad("segments");
  const segments = (raw.segments as unknown[]).map((s) => {
    if (!Array.isArray(s) || !isCount(s[0]) || typeof s[1] !== "string" || !isCount(s[2])) {
      return bad("segment entry");
    }
    const bytes = isCount(s[3]) ? s[3] as number : 0;
    return { segment: s[0] as number, key: s[1] as string, jobs: s[2] as number, bytes };
  });
  for (let i = 1; i < segments.length; i++) {
    if (segments[i].segment <= segments[i - 1].segment) bad("segment order");
  }
  const archives = (Array.isArray(raw.archives) ? raw.archives : []).map((a: unknown) => {
    if (!Array.isArray(a) || typeof a[0] !== "string" || !isCount(a[1]) || !isCount(a[2])) {
      return bad("archive entry");
    }
    return { key: a[0] as string, min: a[1] as number, max: a[2] as number };
  });
  return {
    seq: raw.seq as number,
    epoch: raw.epoch as number,
    leader: restoreIdentity(raw.leader, `${where}: leader`),
    nextSeq: raw.nextSeq as number,
    totals: raw.totals as unknown as QueueTotals,
    segments,
    archives,
    extra: isObject(raw.extra) ? raw.extra as Record<string, JsonValue> : {},
  };
}

function parse(bytes: Uint8Array, where: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new InvalidError(`invalid state: ${where}: not UTF-8 JSON (${String(error)})`);
  }
  if (!isObject(raw)) throw new InvalidError(`invalid state: ${where}: not a JSON object`);
  return raw;
}

function restoreIdentity(raw: unknown, where: string): BrokerIdentity | null {
  if (raw === null || raw === undefined) return null;
  if (!isObject(raw) || typeof raw.id !== "string") {
    throw new InvalidError(`invalid state: ${where}: bad identity`);
  }
  if (raw.url === undefined) return { id: raw.id };
  if (typeof raw.url !== "string") throw new InvalidError(`invalid state: ${where}: bad url`);
  return { id: raw.id, url: raw.url };
}
