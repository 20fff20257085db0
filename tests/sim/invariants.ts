/**
 * The simulator's invariants, checked against the store as written (the
 * final state read with `readQueueState`, the archive objects, and every log
 * record that landed) and against what clients were told (the ledger).
 *
 * @module
 */
import { readQueueState } from "../../broker/read_state.ts";
import { decodeArchive } from "../../core/archive.ts";
import { listJobs } from "../../core/state.ts";
import type { Job } from "../../protocol/operations.ts";
import type { BrokerHost } from "./brokers.ts";
import type { Ledger } from "./ledger.ts";
import type { LandedRecord, StoreWorld } from "./sim_store.ts";

/** A request must be answered within this much virtual time (plus its long-poll wait and freezes). */
export const SETTLE_DEADLINE_MS = 90_000;

/** Fails when a live broker has held a request longer than the deadline. */
export function checkOpenCalls(
  hosts: readonly BrokerHost[],
  now: number,
  fail: (message: string) => void,
): void {
  for (const host of hosts) {
    const incarnation = host.current;
    if (incarnation === undefined) continue;
    for (const call of incarnation.calls) {
      const wait = call.op.op === "claim" ? call.op.waitMs ?? 0 : 0;
      const age = now - call.receivedAt - incarnation.frozenMs;
      if (age > SETTLE_DEADLINE_MS + wait) {
        fail(
          `${incarnation.node.name} has not answered request #${call.id} (${call.op.op}) for ${
            now - call.receivedAt
          } ms`,
        );
        return;
      }
    }
  }
}

/** What {@linkcode checkFinal} checks. */
export interface FinalCheck {
  /** The store and its landed records. */
  world: StoreWorld;
  /** What clients were told. */
  ledger: Ledger;
  /** The brokers. */
  hosts: readonly BrokerHost[];
  /** The virtual time. */
  now: number;
  /** Whether the drain loop saw no ready, delayed or active job. */
  drained: boolean;
  /** Reports a violation. */
  fail: (message: string) => void;
}

/**
 * The end-of-run invariants:
 * - one writer per epoch (by broker incarnation) in the log;
 * - an idempotency key never names two live jobs at once (replaying the log as written);
 * - every acknowledged push is in the state or an archive object, with its payload;
 * - no push payload became two jobs (unless through the idempotency rule);
 * - acknowledged completions, cancellations and dead-letterings are final;
 * - no job is in two places (state and archive, or two archive objects);
 * - the queue drained once the faults stopped;
 * - every request to a live broker was answered.
 */
export async function checkFinal(check: FinalCheck): Promise<void> {
  const { world, ledger, fail } = check;
  checkLog(world.records, fail);
  checkOpenCalls(check.hosts, check.now, (message) => fail(`at the end, ${message}`));

  const snapshot = await readQueueState({ store: world.inner });
  if (snapshot === null) {
    if (ledger.pushes.size > 0) fail("the queue vanished: no head at the end");
    return;
  }
  const where = new Map<string, { job: Job; place: string }>();
  for (const job of listJobs(snapshot.state)) where.set(job.id, { job, place: "state" });
  for (const key of await world.inner.list("archive/")) {
    const found = await world.inner.get(key);
    if (found === null) continue;
    for (const job of decodeArchive(found.body)) {
      const other = where.get(job.id);
      if (other !== undefined) {
        fail(`job ${job.id} is both in ${other.place} and in archive ${key}`);
        return;
      }
      where.set(job.id, { job, place: key });
    }
  }

  for (const [id, pushes] of ledger.pushes) {
    const found = where.get(id);
    if (found === undefined) {
      fail(
        `acknowledged push of ${pushes[0].uid} (job ${id}) is lost: in neither state nor archive`,
      );
      return;
    }
    const uid = (found.job.payload as { uid?: string } | null)?.uid;
    if (!pushes.some((push) => push.uid === uid)) {
      fail(`job ${id} holds payload ${uid}, but the push acknowledged ${pushes[0].uid}`);
      return;
    }
  }
  const byUid = new Map<string, Job[]>();
  for (const { job } of where.values()) {
    const uid = (job.payload as { uid?: string } | null)?.uid ?? "?";
    const list = byUid.get(uid) ?? [];
    list.push(job);
    byUid.set(uid, list);
  }
  for (const [uid, jobs] of byUid) {
    if (jobs.length > 1 && jobs.some((job) => job.idempotencyKey === undefined)) {
      fail(`push of ${uid} became ${jobs.length} jobs: ${jobs.map((job) => job.id).join(", ")}`);
      return;
    }
  }
  for (const id of ledger.completed.keys()) {
    const state = where.get(id)?.job.state;
    if (state !== "completed") {
      fail(`job ${id}: completion acknowledged, but it ended ${state ?? "missing"}`);
      return;
    }
  }
  for (const id of ledger.cancelled) {
    const state = where.get(id)?.job.state;
    if (state !== "cancelled") {
      fail(`job ${id}: cancellation acknowledged, but it ended ${state ?? "missing"}`);
      return;
    }
  }
  for (const id of ledger.dead) {
    const state = where.get(id)?.job.state;
    if (state !== "dead") {
      fail(`job ${id}: dead-lettering acknowledged, but it ended ${state ?? "missing"}`);
      return;
    }
  }
  const open = [...where.values()].filter(({ job }) =>
    job.state === "ready" || job.state === "delayed" || job.state === "active"
  );
  if (!check.drained || open.length > 0) {
    fail(
      `the queue did not drain after the faults stopped: ${open.length} jobs left (${
        open.slice(0, 5).map(({ job }) => `${job.id} ${job.state}`).join(", ")
      })`,
    );
  }
}

/**
 * Invariants of the log as written: one incarnation per epoch; and, replaying the valid records (an epoch
 * lower than one already seen is void), an idempotency key never names two
 * live jobs at once.
 */
export function checkLog(records: readonly LandedRecord[], fail: (message: string) => void): void {
  const writers = new Map<number, string>();
  for (const record of records) checkRecord(writers, record, fail);
  const bySeq = new Map<number, LandedRecord>();
  for (const record of records) if (!bySeq.has(record.seq)) bySeq.set(record.seq, record);
  let epoch = 0;
  const live = new Map<string, string>();
  const keyOf = new Map<string, string>();
  for (let seq = 1; bySeq.has(seq); seq++) {
    const record = bySeq.get(seq)!;
    if (record.epoch < epoch) continue; // void
    epoch = record.epoch;
    for (const id of record.effects.del) {
      const key = keyOf.get(id);
      if (key !== undefined && live.get(key) === id) live.delete(key);
      keyOf.delete(id);
    }
    for (const job of record.effects.add) {
      const key = job.idempotencyKey;
      const id = job.id as string;
      if (typeof key !== "string") continue;
      const holder = live.get(key);
      if (holder !== undefined && holder !== id) {
        fail(
          `idempotency key ${key} names two live jobs (${holder} and ${id}) at log record ${seq}`,
        );
        return;
      }
      live.set(key, id);
      keyOf.set(id, key);
    }
  }
}

/**
 * Checks one landed record against the writers seen so far (epoch → broker
 * incarnation): one incarnation per epoch.
 */
export function checkRecord(
  writers: Map<number, string>,
  record: LandedRecord,
  fail: (message: string) => void,
): void {
  const writer = writers.get(record.epoch);
  if (writer !== undefined && writer !== record.node) {
    fail(
      `two brokers committed in epoch ${record.epoch}: ${writer} and ${record.node} (log record ${record.seq})`,
    );
    return;
  }
  writers.set(record.epoch, record.node);
}

/**
 * Fails when a broker counts as committed a log record of its own that
 * landed after garbage collection had deleted that sequence number (every
 * reader skips it: it lies below a checkpoint). `records` are the landed
 * records; `commit` is what the broker logged (`commit` or `leader` events).
 */
export function checkCommitEvent(
  records: readonly LandedRecord[],
  commit: { node: string; seq: number; epoch: number },
  fail: (message: string) => void,
): void {
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i];
    if (record.seq !== commit.seq) continue;
    if (record.recreated && record.node === commit.node && record.writerAlive) {
      fail(
        `${commit.node} counts log record ${commit.seq} (epoch ${commit.epoch}) as committed, but it landed after that sequence number had been garbage-collected`,
      );
    }
    return;
  }
}
