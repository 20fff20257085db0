/**
 * The phases of one depth run against a broker process: preloading, the
 * single-client and many-client loops, waiting for the broker's writes to
 * settle, and the write cost of what was measured.
 *
 * @module
 */
import type { QueueStats } from "../protocol/operations.ts";
import type { OsqueueClient } from "../worker/client.ts";
import type { BrokerProcess } from "./broker_process.ts";
import type { StoreCounters } from "./counting_broker.ts";
import type {
  DepthBackend,
  ManyClientsResult,
  SingleClientResult,
  WriteCost,
} from "./depth_types.ts";
import { summarize } from "./stats.ts";

/** The 100-character message of every job's payload. */
const MESSAGE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".repeat(2).slice(
  0,
  100,
);
const TYPE = "bench";
/** Jobs per bulk push while preloading. */
export const PUSH_BATCH = 1_000;
const encoder = new TextEncoder();

/** Requests answered and the sum of their JSON-encoded sizes, counted by the load phases. */
export interface OperationBytes {
  /** Requests answered. */
  operations: number;
  /** Their JSON-encoded size, bytes. */
  bytes: number;
}

/**
 * Waits until the broker's store has seen no put or delete for `quietMs`
 * (at most `maxMs`); returns how long the broker kept writing, ms.
 */
export async function settle(
  broker: BrokerProcess,
  quietMs = 1_000,
  maxMs = 120_000,
): Promise<number> {
  const started = performance.now();
  const writes = (c: StoreCounters) => c.puts + c.failedPuts + c.deletes;
  let last = writes(await broker.storeCounters());
  let quietSince = performance.now();
  while (performance.now() - quietSince < quietMs && performance.now() - started < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const now = writes(await broker.storeCounters());
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    }
  }
  return quietSince - started; // when the last write was seen
}

/** Pushes `depth` jobs in bulk pushes of 1,000, `inFlight` at a time. */
export async function preload(
  client: OsqueueClient,
  depth: number,
  inFlight: number,
): Promise<void> {
  const calls = Math.ceil(depth / PUSH_BATCH);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(inFlight, calls) }, async () => {
    while (next < calls) {
      const call = next++;
      const jobs = [];
      for (let id = call * PUSH_BATCH; id < Math.min(depth, (call + 1) * PUSH_BATCH); id++) {
        jobs.push({ type: TYPE, payload: { id, message: MESSAGE } });
      }
      await client.push(jobs);
    }
  }));
}

/** One loop: push a job, claim one, complete it; returns the three latencies, ms. */
async function cycle(
  client: OsqueueClient,
  workerId: string,
  id: number,
  opBytes: OperationBytes,
): Promise<[number, number, number]> {
  const jobs = [{ type: TYPE, payload: { id, message: MESSAGE } }];
  const t0 = performance.now();
  await client.push(jobs);
  const t1 = performance.now();
  const claimed = await client.claim({ workerId, max: 1 });
  const t2 = performance.now();
  const job = claimed.jobs[0];
  if (job === undefined) throw new Error("claim found no job at a depth that should have some");
  await client.complete(job.id, job.leaseToken);
  const t3 = performance.now();
  opBytes.operations += 3;
  opBytes.bytes += encodedSize({ op: "push", jobs }) +
    encodedSize({ op: "claim", workerId, max: 1 }) +
    encodedSize({ op: "complete", jobId: job.id, leaseToken: job.leaseToken });
  return [t1 - t0, t2 - t1, t3 - t2];
}

/** Bytes of `operation` as JSON. */
function encodedSize(operation: unknown): number {
  return encoder.encode(JSON.stringify(operation)).length;
}

/** The single-client phase: loops for `seconds` (at least 5 loops, at most 20 × `seconds`). */
export async function singleClient(
  client: OsqueueClient,
  seconds: number,
  opBytes: OperationBytes,
): Promise<SingleClientResult> {
  for (let i = 0; i < 3; i++) await cycle(client, "single", -1 - i, { operations: 0, bytes: 0 });
  const push: number[] = [];
  const claim: number[] = [];
  const complete: number[] = [];
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  let cycles = 0;
  while ((elapsed() < seconds || cycles < 5) && elapsed() < 20 * seconds) {
    const [p, c, d] = await cycle(client, "single", cycles, opBytes);
    push.push(p);
    claim.push(c);
    complete.push(d);
    cycles++;
  }
  return {
    cycles,
    seconds: elapsed(),
    push: summarize(push),
    claim: summarize(claim),
    complete: summarize(complete),
  };
}

/** The concurrent phase: every client loops until `seconds` have passed (and each did 2 loops). */
export async function manyClients(
  clients: OsqueueClient[],
  probe: OsqueueClient,
  seconds: number,
  opBytes: OperationBytes,
): Promise<ManyClientsResult> {
  await Promise.all(clients.map((client) => client.stats()));
  const latencies: number[] = [];
  let stop = false;
  let cycles = 0;
  let errors = 0;
  const commit0 = (await probe.stats()).commit;
  const started = performance.now();
  const loops = clients.map(async (client, k) => {
    for (let j = 0; !stop; j++) {
      try {
        const times = await cycle(client, `w${k}`, 1_000_000_000 + k * 1_000_000 + j, opBytes);
        if (stop) break;
        latencies.push(...times);
        cycles++;
      } catch (error) {
        if (++errors > 100) throw error;
      }
    }
  });
  const elapsed = () => (performance.now() - started) / 1000;
  while (
    (elapsed() < seconds || cycles < 2 * clients.length) && elapsed() < 20 * seconds
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  stop = true;
  const measured = elapsed();
  const counted = cycles;
  const commit1 = (await probe.stats()).commit;
  await Promise.all(loops);
  const commits = commit1 - commit0;
  return {
    clients: clients.length,
    cycles: counted,
    seconds: measured,
    requestsPerSecond: (3 * counted) / measured,
    commitsPerSecond: commits / measured,
    requestsPerCommit: (3 * counted) / Math.max(1, commits),
    request: summarize(latencies),
    errors,
  };
}

/** Store writes per acknowledged operation between two counter readings. */
export function writeCost(
  before: StoreCounters,
  after: StoreCounters,
  opBytes: OperationBytes,
  backend: DepthBackend,
  diskBytes: number,
): WriteCost {
  const storeBytes = after.putBytes - before.putBytes;
  const operationBytes = opBytes.bytes / opBytes.operations;
  const perOperation = storeBytes / opBytes.operations;
  const cost: WriteCost = {
    operations: opBytes.operations,
    operationBytes,
    storeBytes,
    storePuts: after.puts - before.puts,
    storeDeletes: after.deletes - before.deletes,
    storeBytesPerOperation: perOperation,
    amplification: perOperation / operationBytes,
  };
  if (backend === "directory") cost.diskBytesPerOperation = diskBytes / opBytes.operations;
  return cost;
}

/** Jobs not finished: ready, delayed or leased. */
export function pendingJobs(stats: QueueStats): number {
  return stats.ready + stats.delayed + stats.active;
}
