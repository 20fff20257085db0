/**
 * The parts of one serverless instance (see `serverless.ts`), each wired to
 * the queue's store: the log and head (`StateStore`), the archiver, the
 * janitor (checkpoints and GC) and the contention pacer.
 *
 * @module
 */
import { StateStore } from "./state_store.ts";
import { Archiver } from "./archiver.ts";
import type { ResolvedServerlessOptions } from "./serverless_options.ts";
import { ServerlessJanitor } from "./serverless_janitor.ts";
import { ContentionPacer } from "./serverless_pacing.ts";

/** The store-facing parts of a serverless instance. */
export interface ServerlessParts {
  /** Reads and appends the log, reads and writes the head. */
  stateStore: StateStore;
  /** Writes archive objects for finished jobs and finds archived ones. */
  archiver: Archiver;
  /** Writes checkpoints and collects garbage, one instance at a time. */
  janitor: ServerlessJanitor;
  /** Spaces this instance's writes when others write too. */
  pacer: ContentionPacer;
}

/** Builds the parts of a serverless instance from its resolved options; `now` is its clock. */
export function serverlessParts(
  resolved: ResolvedServerlessOptions,
  now: () => number,
): ServerlessParts {
  const o = resolved.broker;
  const { store, prefix, identity } = o;
  const stateStore = new StateStore({
    store,
    prefix,
    headKey: o.stateKey,
    identity,
    now,
    log: o.log,
  });
  const archiver = new Archiver({
    store,
    maxJobs: o.archiveMaxJobs,
    maxAgeMs: o.archiveMaxAgeMs,
    log: o.log,
  });
  const janitor = new ServerlessJanitor({
    store,
    prefix,
    headKey: prefix + o.stateKey,
    identity,
    now,
    graceMs: resolved.gcGraceMs,
    leaseMs: resolved.janitorLeaseMs,
    minRecords: o.checkpointMinRecords,
    minIntervalMs: o.checkpointMinIntervalMs,
    archives: () => archiver.index(),
    flushArchives: () => archiver.flush(),
    log: o.log,
  });
  const pacer = new ContentionPacer({
    store,
    prefix,
    instanceId: identity.id,
    now,
    random: o.random,
    pollIntervalMs: resolved.pollIntervalMs,
    minCommitIntervalMs: o.minCommitIntervalMs,
  });
  return { stateStore, archiver, janitor, pacer };
}
