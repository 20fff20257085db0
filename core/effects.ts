/**
 * A batch's effects: what a commit must persist so that replaying it on the
 * state before the batch gives the state after it. New jobs travel whole; a
 * job whose operations changed only its status (state, lease, attempts…)
 * travels as its status alone, so a heartbeat or a claim never rewrites a
 * payload; removed jobs travel as ids. The counters and the next sequence
 * number travel when they changed.
 *
 * {@linkcode batchEffects} extracts the effects of a batch and
 * {@linkcode replayEffects} applies them again. Both are pure.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { Job, JsonValue, QueueTotals } from "../protocol/operations.ts";
import {
  onlyStatusChanged,
  restoreJob,
  restoreStatus,
  storedJob,
  storedStatus,
} from "./job_codec.ts";
import { parseJobId } from "./job_id.ts";
import type { BrokerIdentity, QueueState } from "./state.ts";
import { stateData } from "./state_data.ts";
import { type JobChange, StateDraft } from "./state_draft.ts";

/** The effects of one batch, in their stored (JSON-ready) form. */
export interface BatchEffects {
  /** New jobs, and jobs replaced whole, in their stored form (`job_codec.ts`). */
  add: Record<string, unknown>[];
  /** Status records of jobs whose status alone changed. */
  set: Record<string, unknown>[];
  /** Ids of removed jobs. */
  del: string[];
  /** The next sequence number, when it changed. */
  nextSeq?: number;
  /** The counters, when they changed. */
  totals?: QueueTotals;
  /** The state's `extra` values, whole, when any changed. */
  extra?: Record<string, JsonValue>;
}

/** Whether `effects` changes nothing. */
export function isEmptyEffects(effects: BatchEffects): boolean {
  return effects.add.length === 0 && effects.set.length === 0 && effects.del.length === 0 &&
    effects.nextSeq === undefined && effects.totals === undefined && effects.extra === undefined;
}

/**
 * The effects that turn `before` into `after`, given the batch's job
 * `changes` (from `applyBatch`).
 */
export function batchEffects(
  before: QueueState,
  after: QueueState,
  changes: ReadonlyMap<number, JobChange>,
): BatchEffects {
  const old = stateData(before);
  const next = stateData(after);
  const effects: BatchEffects = { add: [], set: [], del: [] };
  const seqs = [...changes.keys()].sort((x, y) => x - y);
  for (const seq of seqs) {
    const job = next.jobs.get(seq);
    const previous = old.jobs.get(seq);
    if (job === undefined) {
      if (previous !== undefined) effects.del.push(previous.id);
    } else if (previous !== undefined && onlyStatusChanged(previous, job)) {
      effects.set.push(storedStatus(previous, job));
    } else {
      effects.add.push(storedJob(job));
    }
  }
  if (next.nextSeq !== old.nextSeq) effects.nextSeq = next.nextSeq;
  if (!sameTotals(next.totals, old.totals)) effects.totals = { ...next.totals };
  if (next.extra !== old.extra) effects.extra = { ...next.extra };
  return effects;
}

/**
 * `state` with `effects` applied, committed as log sequence `meta.commit` by
 * `meta.leader` in `meta.epoch`. Checks every record; throws an
 * {@linkcode InvalidError} naming `where` when the effects do not fit the
 * state (a status for a job it does not hold, a bad id).
 */
export function replayEffects(
  state: QueueState,
  effects: BatchEffects,
  meta: { epoch: number; commit: number; leader: BrokerIdentity | null; where: string },
): QueueState {
  const draft = new StateDraft(stateData(state));
  const seqOf = (id: unknown, what: string): number => {
    const seq = typeof id === "string" ? parseJobId(id) : undefined;
    if (seq === undefined) {
      throw new InvalidError(
        `invalid state: ${meta.where}: ${what}: bad job id ${JSON.stringify(id)}`,
      );
    }
    return seq;
  };
  effects.add.forEach((raw, i) => {
    const job = restoreJob(raw, `${meta.where}: add[${i}]`);
    const seq = seqOf(job.id, `add[${i}]`);
    const previous = draft.job(seq);
    if (previous === undefined) draft.add(seq, job);
    else draft.update(seq, previous, job);
  });
  effects.set.forEach((raw, i) => {
    const seq = seqOf((raw as { id?: unknown }).id, `set[${i}]`);
    const previous = draft.job(seq);
    if (previous === undefined) {
      throw new InvalidError(
        `invalid state: ${meta.where}: set[${i}]: job ${raw.id} is not in the state`,
      );
    }
    draft.update(seq, previous, restoreStatus(raw, previous, `${meta.where}: set[${i}]`));
  });
  effects.del.forEach((id, i) => {
    const seq = seqOf(id, `del[${i}]`);
    const previous = draft.job(seq);
    if (previous !== undefined) draft.remove(seq, previous);
  });
  if (
    effects.nextSeq !== undefined || effects.totals !== undefined || effects.extra !== undefined
  ) {
    const meta2: Parameters<StateDraft["setMeta"]>[0] = {};
    if (effects.nextSeq !== undefined) meta2.nextSeq = effects.nextSeq;
    if (effects.totals !== undefined) meta2.totals = effects.totals;
    if (effects.extra !== undefined) meta2.extra = effects.extra;
    draft.setMeta(meta2);
  }
  const next = draft.snapshot();
  return next.with({ epoch: meta.epoch, commit: meta.commit, leader: meta.leader });
}

function sameTotals(x: Readonly<QueueTotals>, y: Readonly<QueueTotals>): boolean {
  if (x === y) return true;
  for (const key of Object.keys(x) as (keyof QueueTotals)[]) if (x[key] !== y[key]) return false;
  return true;
}

/** The jobs `ids` as the state holds them (for archiving what a batch removes). */
export function jobsById(state: QueueState, ids: readonly string[]): Job[] {
  const data = stateData(state);
  const out: Job[] = [];
  for (const id of ids) {
    const seq = parseJobId(id);
    const job = seq === undefined ? undefined : data.jobs.get(seq);
    if (job !== undefined) out.push(job);
  }
  return out;
}
