/**
 * Depth suite (`deno task bench depth`): what one commit costs as the number
 * of pending jobs grows, with the CLI broker as its own process, on the
 * directory store and on S3 (radosgw).
 *
 * For each depth and store, on a fresh store:
 * 1. start the broker (`bench/counting_broker.ts broker`, which is
 *    `cli/main.ts broker` with a counter on its store);
 * 2. **preload** `depth` pending jobs (payload `{id, message}` with a
 *    100-character message) by bulk pushes of 1,000 jobs, several in flight;
 * 3. **1 client**, closed loop, for `seconds`: push 1 job → claim 1 → complete
 *    it (the depth stays constant); push→ack p50/p99;
 * 4. **`clients` clients** (one WebSocket each), the same loop for `seconds`:
 *    requests/s, commits/s (the `commit` counter of `stats`), requests per
 *    commit;
 * 5. broker memory (`VmRSS` now, `VmHWM` peak, from `/proc/<pid>/status`);
 * 6. **bytes written to the store per acknowledged operation** over phases 3
 *    and 4 (everything the broker wrote meanwhile; the suite waits for the
 *    broker's writes to stop after the preload and after phase 4, so that
 *    background work such as checkpoints is counted with the phase that caused it):
 *    the bodies of the store's successful puts, counted inside the broker
 *    process, divided by the requests answered; compared with the mean
 *    JSON-encoded size of those operations. On the directory store also the
 *    kernel's `write_bytes` of the process (page-granular, so ≥ 4 KiB per
 *    file written);
 * 7. **restart**: SIGTERM (time to exit), then a new broker on the same
 *    store: process spawn → first `GET /v1/stats` answered 200;
 *    then the same after SIGKILL. Each restart checks that every pending job
 *    is still there.
 *
 * @module
 */
import { DirectoryStore } from "../storage/directory_store.ts";
import { S3Store } from "../storage/s3_store.ts";
import type { QueueStats } from "../protocol/operations.ts";
import { connectClient, type OsqueueClient } from "../worker/client.ts";
import { type OpenedStore, openStore, type S3Settings } from "./backends.ts";
import { BrokerProcess } from "./broker_process.ts";
import type { StoreCounters } from "./counting_broker.ts";
import type { ProgressLog, Section } from "./report.ts";
import { formatNumber, summarize, type Summary } from "./stats.ts";

/** The stores the depth suite runs on (the CLI broker has no memory store). */
export type DepthBackend = "directory" | "s3";

/** Options of {@linkcode runDepthSuite}. */
export interface DepthOptions {
  /** Pending jobs to preload (default 1k, 10k, 100k, 1M). */
  depths?: number[];
  /** Stores (default directory). */
  backends?: DepthBackend[];
  /** S3 settings, for `s3`. */
  s3?: S3Settings;
  /** Length of each load phase, seconds (default 10). */
  seconds?: number;
  /** Clients of the concurrent phase (default 64). */
  clients?: number;
  /** Bulk pushes in flight while preloading (default 16). */
  preloadInFlight?: number;
  /** The broker is killed (and the run reported as failed) above this RSS, MB (default 75 % of RAM). */
  maxRssMb?: number;
  /** Progress lines. */
  log?: ProgressLog;
}

/** Latencies of the single-client loop, ms. */
export interface SingleClientResult {
  /** Loops done. */
  cycles: number;
  /** Measured time, s. */
  seconds: number;
  /** push → its reply. */
  push: Summary;
  /** claim → its reply. */
  claim: Summary;
  /** complete → its reply. */
  complete: Summary;
}

/** Throughput of the concurrent phase. */
export interface ManyClientsResult {
  /** Clients. */
  clients: number;
  /** Loops done within the measured time. */
  cycles: number;
  /** Measured time, s. */
  seconds: number;
  /** Requests answered per second (3 per loop). */
  requestsPerSecond: number;
  /** Commits per second. */
  commitsPerSecond: number;
  /** Requests per commit. */
  requestsPerCommit: number;
  /** Latency of every request, ms. */
  request: Summary;
  /** Requests that failed. */
  errors: number;
}

/** Bytes written per acknowledged operation over the load phases. */
export interface WriteCost {
  /** Requests answered in the load phases. */
  operations: number;
  /** Mean JSON-encoded size of those operations, bytes. */
  operationBytes: number;
  /** Bodies of successful store puts, bytes. */
  storeBytes: number;
  /** Successful store puts. */
  storePuts: number;
  /** Store deletes. */
  storeDeletes: number;
  /** `storeBytes / operations`. */
  storeBytesPerOperation: number;
  /** `storeBytesPerOperation / operationBytes`. */
  amplification: number;
  /** `write_bytes` of `/proc/<pid>/io` per operation (directory store only). */
  diskBytesPerOperation?: number;
}

/** One measured (depth, store). */
export interface DepthResult {
  /** Pending jobs. */
  depth: number;
  /** Store. */
  backend: DepthBackend;
  /** Preloading: seconds, jobs/s, commits, store bytes per job (its background work included). */
  preload?: { seconds: number; jobsPerSecond: number; commits: number; storeBytesPerJob: number };
  /** The single-client loop. */
  single?: SingleClientResult;
  /** The concurrent phase. */
  many?: ManyClientsResult;
  /** Broker memory after preloading and at the end, bytes. */
  memory?: { afterPreload: number; end: number; peak: number };
  /** Store writes per operation. */
  writes?: WriteCost;
  /**
   * How long the broker kept writing after the preload and after the load
   * phases (waited for, so that background work lands in the right phase), ms.
   */
  settleMs?: { afterPreload: number; afterLoad?: number };
  /** Restarts, ms. */
  restart?: {
    /** SIGTERM → the old process exited, ms. */
    termExitMs: number;
    /** Spawn → first answer after a SIGTERM, ms. */
    afterTermMs: number;
    /** Spawn → first answer after a SIGKILL, ms. */
    afterKillMs: number;
    /** `VmRSS` of the broker restarted after SIGKILL, just after its first answer, bytes. */
    rssAfterRestart: number;
    /** Bytes that broker read from the store until its first answer. */
    readBytesAtRestart: number;
  };
  /** What went wrong, when the run failed. */
  error?: string;
}

const MESSAGE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".repeat(2).slice(
  0,
  100,
);
const TYPE = "bench";
const IDENTITY = "bench-depth";
const PUSH_BATCH = 1_000;
const encoder = new TextEncoder();

/** The default depths: 1k, 10k, 100k, 1M. */
export const DEFAULT_DEPTHS: readonly number[] = [1_000, 10_000, 100_000, 1_000_000];

/** Parses `1000`, `10k`, `1M`, `2.5k` (case-insensitive); throws on anything else. */
export function parseDepth(text: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)([kKmM]?)$/);
  const value = match
    ? Number(match[1]) * ({ "": 1, k: 1e3, m: 1e6 }[match[2].toLowerCase()] ?? NaN)
    : NaN;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`a depth must be a positive whole number like 1000, 10k or 1M, got "${text}"`);
  }
  return value;
}

/** Formats a depth like `1k`, `100k`, `1M`. */
export function formatDepth(depth: number): string {
  if (depth >= 1e6 && depth % 1e5 === 0) return `${depth / 1e6}M`;
  if (depth >= 1e3 && depth % 100 === 0) return `${depth / 1e3}k`;
  return String(depth);
}

/** Runs the depth suite; returns every result and the table. */
export async function runDepthSuite(
  options: DepthOptions = {},
): Promise<{ results: DepthResult[]; section: Section }> {
  const log = options.log ?? (() => {});
  const results: DepthResult[] = [];
  const loadStart = loadAverage();
  for (const depth of options.depths ?? DEFAULT_DEPTHS) {
    for (const backend of options.backends ?? ["directory"]) {
      log(`depth ${formatDepth(depth)} on ${backend} (load ${loadAverage()})`);
      const result = await runOne(depth, backend, options, log);
      if (result.error !== undefined) log(`  failed: ${result.error}`);
      results.push(result);
    }
  }
  return { results, section: depthSection(results, options, loadStart) };
}

/** One depth on one store, from a fresh store to its cleanup. */
async function runOne(
  depth: number,
  backend: DepthBackend,
  options: DepthOptions,
  log: ProgressLog,
): Promise<DepthResult> {
  const result: DepthResult = { depth, backend };
  const opened = await openStore(backend, { s3: options.s3, label: "depth" });
  let broker: BrokerProcess | undefined;
  let watchdog: ReturnType<typeof setInterval> | undefined;
  const clients: OsqueueClient[] = [];
  try {
    const storage = storageFlags(opened, options.s3);
    broker = BrokerProcess.start({ storage, identity: IDENTITY });
    const url = await broker.url();
    const maxRss = (options.maxRssMb ?? defaultMaxRssMb()) * 1e6;
    let killedForMemory = false;
    const watch = (process: BrokerProcess) => {
      clearInterval(watchdog);
      watchdog = setInterval(() => {
        try {
          if (!process.exited && process.memory().rss > maxRss) {
            killedForMemory = true;
            process.child.kill("SIGKILL");
          }
        } catch {
          // exited
        }
      }, 250);
    };
    watch(broker);
    const alive = <T>(process: BrokerProcess, work: Promise<T>): Promise<T> =>
      Promise.race([
        work,
        process.status.then(() => {
          throw new Error(
            killedForMemory
              ? `the broker passed ${formatNumber(maxRss / 1e6)} MB RSS and was killed`
              : `the broker exited:\n${process.describe()}`,
          );
        }),
      ]);
    const connect = (clientId: string) => {
      const client = connectClient({ url, clientId, requestTimeoutMs: 3_600_000 });
      clients.push(client);
      return client;
    };
    const producer = connect("depth-producer");
    const commit = async () => (await alive(broker!, producer.stats())).commit;

    // 2. preload
    const preloadStarted = performance.now();
    const commit0 = await commit();
    const counters0 = await broker.storeCounters();
    await alive(broker, preload(producer, depth, options.preloadInFlight ?? 16));
    const preloadSeconds = (performance.now() - preloadStarted) / 1000;
    const preloadCommits = (await commit()) - commit0;
    const afterPreload = broker.memory().rss;
    log(
      `  preloaded in ${preloadSeconds.toFixed(1)} s, RSS ${formatNumber(afterPreload / 1e6)} MB`,
    );
    // Background work the preload started (e.g. a checkpoint) is the preload's cost, not the
    // load phases': wait for it.
    const settleMs: NonNullable<DepthResult["settleMs"]> = {
      afterPreload: await alive(broker, settle(broker)),
    };
    result.settleMs = settleMs;
    const written0 = await broker.storeCounters();
    const io0 = broker.io();
    result.preload = {
      seconds: preloadSeconds,
      jobsPerSecond: depth / preloadSeconds,
      commits: preloadCommits,
      storeBytesPerJob: (written0.putBytes - counters0.putBytes) / depth,
    };

    // 3. one client; 4. many clients — with the store's writes counted over both.
    const seconds = options.seconds ?? 10;
    const opBytes = { operations: 0, bytes: 0 };
    result.single = await alive(broker, singleClient(connect("depth-single"), seconds, opBytes));
    log(`  1 client: push p50 ${formatNumber(result.single.push.p50)} ms`);
    const many = Array.from({ length: options.clients ?? 64 }, (_, i) => connect(`depth-${i}`));
    result.many = await alive(broker, manyClients(many, producer, seconds, opBytes));
    log(`  ${many.length} clients: ${formatNumber(result.many.requestsPerSecond)} requests/s`);
    // Background work the load started (e.g. a checkpoint) is its cost: wait for it.
    settleMs.afterLoad = await alive(broker, settle(broker));
    const written1 = await broker.storeCounters();
    const io1 = broker.io();
    result.writes = writeCost(
      written0,
      written1,
      opBytes,
      backend,
      io1.writeBytes - io0.writeBytes,
    );
    const memory = broker.memory();
    result.memory = { afterPreload, end: memory.rss, peak: memory.peak };
    const held = pendingJobs(await alive(broker, producer.stats()));
    await Promise.all(clients.splice(0).map((client) => client.close()));

    // 7. restarts on the same store (on a port of the OS's choice: no reuse races)
    const termExitMs = await broker.stop("SIGTERM");
    const restart = async (): Promise<number> => {
      broker = BrokerProcess.start({ storage, identity: IDENTITY });
      watch(broker);
      const answered = await broker.waitUntilAnswering(await broker.url());
      const pending = pendingJobs(answered.stats as unknown as QueueStats);
      if (pending !== held) {
        throw new Error(`after a restart the queue holds ${pending} pending jobs, not ${held}`);
      }
      return answered.ms;
    };
    const afterTermMs = await restart();
    await broker.stop("SIGKILL");
    const afterKillMs = await restart();
    result.restart = {
      termExitMs,
      afterTermMs,
      afterKillMs,
      rssAfterRestart: broker.memory().rss,
      readBytesAtRestart: (await broker.storeCounters()).getBytes,
    };
    log(
      `  restart ${formatNumber(afterTermMs)} ms (SIGTERM), ${
        formatNumber(afterKillMs)
      } ms (SIGKILL)`,
    );
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    if (broker !== undefined) log(`  the broker's last lines:\n${broker.describe()}`);
  } finally {
    clearInterval(watchdog);
    await Promise.all(clients.map((client) => client.close().catch(() => {})));
    if (broker !== undefined) {
      await broker.stop("SIGTERM").catch(() => broker!.stop("SIGKILL")).catch(() => {});
    }
    // A store that cannot be cleaned (e.g. S3 overloaded) must not lose the results.
    await opened.cleanup().catch((error) => {
      log(`  cleanup of ${opened.store.description} failed: ${String(error)}`);
    });
  }
  return result;
}

/**
 * Waits until the broker's store has seen no put or delete for `quietMs`
 * (at most `maxMs`); returns how long the broker kept writing, ms.
 */
async function settle(broker: BrokerProcess, quietMs = 1_000, maxMs = 120_000): Promise<number> {
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

/** The CLI flags that point a broker at `opened`. */
function storageFlags(opened: OpenedStore, s3: S3Settings | undefined): string[] {
  const store = opened.store;
  if (store instanceof DirectoryStore) return ["--data", store.root];
  if (store instanceof S3Store && s3 !== undefined) {
    return [
      "--storage",
      `s3://${store.bucket}/${store.prefix}`,
      "--s3-endpoint",
      s3.endpoint,
      "--s3-region",
      s3.region,
      "--s3-path-style",
    ];
  }
  throw new Error(`the depth suite cannot point a CLI broker at ${store.description}`);
}

/** Pushes `depth` jobs in bulk pushes of 1,000, `inFlight` at a time. */
async function preload(client: OsqueueClient, depth: number, inFlight: number): Promise<void> {
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
  opBytes: { operations: number; bytes: number },
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

function encodedSize(operation: unknown): number {
  return encoder.encode(JSON.stringify(operation)).length;
}

/** The single-client phase: loops for `seconds` (at least 5 loops, at most 20 × `seconds`). */
async function singleClient(
  client: OsqueueClient,
  seconds: number,
  opBytes: { operations: number; bytes: number },
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
async function manyClients(
  clients: OsqueueClient[],
  probe: OsqueueClient,
  seconds: number,
  opBytes: { operations: number; bytes: number },
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

function writeCost(
  before: StoreCounters,
  after: StoreCounters,
  opBytes: { operations: number; bytes: number },
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
function pendingJobs(stats: QueueStats): number {
  return stats.ready + stats.delayed + stats.active;
}

function loadAverage(): string {
  try {
    return Deno.loadavg().map((value) => value.toFixed(2)).join(" ");
  } catch {
    return "unknown";
  }
}

function defaultMaxRssMb(): number {
  try {
    return Math.floor((Deno.systemMemoryInfo().total * 0.75) / 1e6);
  } catch {
    return 8_000;
  }
}

/** The markdown table of the results, one row per depth and store. */
export function depthSection(
  results: DepthResult[],
  options: DepthOptions,
  loadStart: string,
): Section {
  const cell = (value: number | undefined, digits = 2) =>
    value === undefined ? "—" : formatNumber(value, digits);
  const mb = (bytes: number | undefined) => (bytes === undefined ? "—" : formatNumber(bytes / 1e6));
  const rows = results.map((r) => [
    formatDepth(r.depth),
    r.backend,
    cell(r.preload?.jobsPerSecond),
    cell(r.single?.push.p50),
    cell(r.single?.push.p99),
    cell(r.many?.requestsPerSecond),
    cell(r.many?.commitsPerSecond),
    cell(r.many?.requestsPerCommit),
    mb(r.memory?.end),
    mb(r.memory?.peak),
    cell(r.writes?.storeBytesPerOperation),
    cell(r.writes?.amplification),
    cell(r.writes?.diskBytesPerOperation),
    cell(r.restart?.afterTermMs),
    cell(r.restart?.afterKillMs),
    r.error === undefined ? "" : r.error.split("\n")[0].slice(0, 120),
  ]);
  const clients = options.clients ?? 64;
  return {
    title: "Depth: commit cost vs pending jobs (CLI broker as its own process)",
    headers: [
      "pending",
      "store",
      "preload jobs/s",
      "push→ack p50 ms",
      "push→ack p99 ms",
      `${clients} clients req/s`,
      "commits/s",
      "req/commit",
      "RSS MB",
      "peak RSS MB",
      "store B/op",
      "× op size",
      "disk B/op",
      "restart ms (TERM)",
      "restart ms (KILL)",
      "error",
    ],
    rows,
    notes: [
      `Per row: a fresh store and a fresh \`cli/main.ts broker\` process; \`pending\` jobs ` +
      `(100-byte message) preloaded by bulk pushes of ${PUSH_BATCH}; then 1 client and then ` +
      `${clients} clients, each a closed loop push → claim → complete for ` +
      `${options.seconds ?? 10} s (the depth stays constant).`,
      "push→ack: one client's push request to its reply. commits/s from the `commit` counter " +
      "of `stats`; req/commit = requests answered / commits.",
      "RSS: `VmRSS` at the end; peak: `VmHWM` (from `/proc/<pid>/status`).",
      "store B/op: bytes of the bodies the broker's store put (counted inside the broker " +
      "process by `bench/counting_broker.ts`, background writes included) during the two " +
      "load phases ÷ requests answered; × op size: that ÷ the mean JSON size of those " +
      "requests. disk B/op (directory store): the kernel's `write_bytes` of the broker " +
      "process (`/proc/<pid>/io`, whole pages, so at least 4 KiB per file written) ÷ requests.",
      "Before the load phases and before the final count the suite waits until the broker " +
      "has written nothing for 1 s, so background work (checkpoints) started by the preload " +
      "is not counted and that started by the load is.",
      "restart: a new broker on the same store after SIGTERM (resp. SIGKILL) of the old one: " +
      "process spawn → first `GET /v1/stats` answered 200; every pending job checked present.",
      `Load average (1/5/15 min) at the start ${loadStart}, at the end ${loadAverage()}.`,
    ],
  };
}
