/**
 * Broker suite: group-commit throughput of the {@linkcode Broker} actor,
 * in process, under a fixed closed-loop load, against a memory store with
 * added latency (`FaultyStore` over `MemoryStore`), for several backlog
 * depths. Also reports the size of a commit's log record and the CPU a
 * commit costs (`applyBatch`, then `batchEffects` and `encodeLogRecord`,
 * measured on the final state with a tick of the same size as the run's
 * mean batch).
 *
 * With no added latency the broker and the clients run on promise reactions
 * alone (`MemoryStore` settles at once), so timers never fire while the load
 * runs: the phases are therefore driven by the clients' own clock checks.
 *
 * @module
 */
import { Broker, type BrokerMetrics } from "../broker/broker.ts";
import { applyBatch, type ApplyContext, type BrokerOperation } from "../core/apply.ts";
import { createState, encodeState, type QueueState } from "../core/state.ts";
import { batchEffects } from "../core/effects.ts";
import { encodeLogRecord } from "../broker/log_record.ts";
import type { ClaimedJob, PushJob } from "../protocol/operations.ts";
import { FaultyStore } from "../storage/faulty_store.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import type { ProgressLog, Section } from "./report.ts";
import { formatBytes, formatNumber, median, summarize } from "./stats.ts";

/** Options of {@linkcode runBrokerSuite}. */
export interface BrokerSuiteOptions {
  /** Jobs pre-loaded in the state (default 1k, 10k, 100k). */
  backlogs?: number[];
  /** Store latencies to add, ms (default 0, 4, 50). */
  latenciesMs?: number[];
  /** Concurrent closed-loop clients (default 64). */
  clients?: number;
  /** Measured time per scenario, ms (default 3000). */
  durationMs?: number;
  /** Unmeasured load before measuring, ms (default 300). */
  warmupMs?: number;
  /** Progress lines. */
  log?: ProgressLog;
}

/** One measured scenario of the broker suite. */
export interface BrokerResult {
  /** Jobs pre-loaded. */
  backlog: number;
  /** Added store latency, ms. */
  latencyMs: number;
  /** State writes per second. */
  commitsPerSecond: number;
  /** Mean operations per write (client requests plus housekeeping). */
  opsPerCommit: number;
  /** Client requests answered per second. */
  requestsPerSecond: number;
  /** Request latency as the client sees it, ms. */
  requestP50: number;
  /** 99th percentile request latency, ms. */
  requestP99: number;
  /** Bytes of the last log record written. */
  stateBytes: number;
  /** CPU of `applyBatch` for one tick of the mean batch size, ms (median of repeats). */
  applyMs: number;
  /** CPU of building and encoding one commit's log record, ms (median of repeats). */
  encodeMs: number;
  /** Time of `broker.start()` (read, decode, takeover write), ms. */
  startMs: number;
  /** Requests that failed. */
  errors: number;
}

const MESSAGE = "x".repeat(100);
const TYPE = "bench";

function job(id: number): PushJob {
  return { type: TYPE, payload: { id, message: MESSAGE } };
}

/** Encoded states with `size` ready jobs, built with the pure model (cached per size). */
function preloadedState(size: number, cache: Map<number, Uint8Array>): Uint8Array {
  const cached = cache.get(size);
  if (cached !== undefined) return cached;
  let state = createState();
  const context = syntheticContext(Date.now());
  for (let pushed = 0; pushed < size; pushed += 1000) {
    const count = Math.min(1000, size - pushed);
    const jobs = Array.from({ length: count }, (_, i) => job(pushed + i));
    state = applyBatch(state, [{ op: "push", jobs }], context).state;
  }
  const bytes = encodeState(state);
  cache.set(size, bytes);
  return bytes;
}

let syntheticTokens = 0;
function syntheticContext(now: number): ApplyContext {
  return {
    now,
    defaultLeaseMs: 60_000,
    newToken: () => `t${++syntheticTokens}`,
    random: () => 0.5,
  };
}

/**
 * The CPU cost of one commit on `state`: ticks of `perKind` pushes, claims
 * of one job and completions of the previous tick's claims (the load's mix),
 * each followed by what the broker writes for it: the batch's effects as a
 * log record. Medians over `repeats`.
 */
export function commitCost(
  state: QueueState,
  perKind: number,
  repeats = 15,
): { applyMs: number; encodeMs: number } {
  const applyTimes: number[] = [];
  const encodeTimes: number[] = [];
  let claimed: ClaimedJob[] = [];
  let now = Date.now();
  for (let i = 0; i < repeats + 2; i++) {
    now += 1;
    const operations: BrokerOperation[] = [];
    for (let k = 0; k < perKind; k++) operations.push({ op: "push", jobs: [job(k)] });
    for (let k = 0; k < perKind; k++) operations.push({ op: "claim", workerId: `c${k}`, max: 1 });
    for (const done of claimed) {
      operations.push({ op: "complete", jobId: done.id, leaseToken: done.leaseToken });
    }
    const t0 = performance.now();
    const result = applyBatch(state, operations, syntheticContext(now));
    const t1 = performance.now();
    encodeLogRecord({
      seq: state.commit + 1,
      epoch: 1,
      writer: { id: "bench-cost" },
      nonce: "n",
      at: now,
      effects: batchEffects(state, result.state, result.changes),
    });
    const t2 = performance.now();
    state = result.state;
    claimed = [];
    for (const reply of result.replies.slice(perKind, 2 * perKind)) {
      if (reply.ok) claimed.push(...(reply.value as { jobs: ClaimedJob[] }).jobs);
    }
    if (i >= 2) { // the first ticks warm up
      applyTimes.push(t1 - t0);
      encodeTimes.push(t2 - t1);
    }
  }
  return { applyMs: median(applyTimes), encodeMs: median(encodeTimes) };
}

/** Runs one scenario: a broker on a pre-loaded memory store with `latencyMs`, `clients` loops. */
async function runScenario(
  backlog: number,
  latencyMs: number,
  options: Required<Omit<BrokerSuiteOptions, "log" | "backlogs" | "latenciesMs">>,
  cache: Map<number, Uint8Array>,
): Promise<BrokerResult> {
  const inner = new MemoryStore();
  await inner.put("queue.json", preloadedState(backlog, cache), {
    condition: { ifNoneMatch: "*" },
  });
  const store = new FaultyStore(inner, latencyMs > 0 ? { latencyMs } : {});
  const broker = new Broker({ store, heartbeatTimeoutMs: 120_000 });
  const t0 = performance.now();
  await broker.start();
  const startMs = performance.now() - t0;

  // Phases are driven by the clients' own clock checks, not by timers: with no store
  // latency the broker and the clients run on promise reactions only, and a timer
  // would never fire (see the module notes).
  const warmupEnd = performance.now() + options.warmupMs;
  const end = warmupEnd + options.durationMs;
  let before: BrokerMetrics | undefined;
  let after: BrokerMetrics | undefined;
  let measuredFrom = 0;
  let measuredTo = 0;
  let errors = 0;
  const latencies: number[] = [];
  let nextId = backlog;
  const phase = (now: number): "warmup" | "measure" | "done" => {
    if (now >= end) {
      if (after === undefined) {
        after = broker.metrics;
        measuredTo = now;
      }
      return "done";
    }
    if (now >= warmupEnd && before === undefined) {
      before = broker.metrics;
      measuredFrom = now;
    }
    return before === undefined ? "warmup" : "measure";
  };
  const timed = async <T>(run: () => Promise<T>): Promise<T | undefined> => {
    const started = performance.now();
    const counted = phase(started) === "measure";
    try {
      const value = await run();
      const finished = performance.now();
      if (counted && phase(finished) === "measure") latencies.push(finished - started);
      return value;
    } catch {
      if (counted) errors++;
      return undefined;
    }
  };
  const client = async (index: number): Promise<void> => {
    const workerId = `client-${index}`;
    while (phase(performance.now()) !== "done") {
      await timed(() => broker.request({ op: "push", jobs: [job(nextId++)] }));
      const claimed = await timed(() => broker.request({ op: "claim", workerId, max: 1 }));
      for (const found of claimed?.jobs ?? []) {
        await timed(() =>
          broker.request({ op: "complete", jobId: found.id, leaseToken: found.leaseToken })
        );
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  await broker.stop();
  if (before === undefined || after === undefined) throw new Error("broker scenario: no phases");
  const elapsedS = (measuredTo - measuredFrom) / 1000;

  const commits = after.commits - before.commits;
  const operations = after.committedRequests - before.committedRequests;
  const opsPerCommit = commits > 0 ? operations / commits : NaN;
  const requests = summarize(latencies);
  const cost = commitCost(broker.state, Math.max(1, Math.round(opsPerCommit / 3)));
  return {
    backlog,
    latencyMs,
    commitsPerSecond: commits / elapsedS,
    opsPerCommit,
    requestsPerSecond: requests.count / elapsedS,
    requestP50: requests.p50,
    requestP99: requests.p99,
    stateBytes: after.stateBytes,
    applyMs: cost.applyMs,
    encodeMs: cost.encodeMs,
    startMs,
    errors,
  };
}

/** Runs every backlog × latency scenario; returns the raw results and a printable section. */
export async function runBrokerSuite(
  options: BrokerSuiteOptions = {},
): Promise<{ results: BrokerResult[]; section: Section }> {
  const backlogs = options.backlogs ?? [1_000, 10_000, 100_000];
  const latencies = options.latenciesMs ?? [0, 4, 50];
  const log = options.log ?? (() => {});
  const scenario = {
    clients: options.clients ?? 64,
    durationMs: options.durationMs ?? 3000,
    warmupMs: options.warmupMs ?? 300,
  };
  const cache = new Map<number, Uint8Array>();
  const results: BrokerResult[] = [];
  for (const backlog of backlogs) {
    for (const latencyMs of latencies) {
      const result = await runScenario(backlog, latencyMs, scenario, cache);
      results.push(result);
      log(
        `broker backlog ${backlog} latency ${latencyMs} ms: ` +
          `${formatNumber(result.commitsPerSecond)} commits/s, ` +
          `${formatNumber(result.opsPerCommit)} ops/commit`,
      );
    }
    cache.delete(backlog);
  }
  const section: Section = {
    title: "Broker: group commit under a closed-loop load",
    headers: [
      "backlog",
      "store latency",
      "commits/s",
      "ops/commit",
      "requests/s",
      "request p50 ms",
      "request p99 ms",
      "record size",
      "apply ms/commit",
      "encode ms/commit",
      "start ms",
      "errors",
    ],
    rows: results.map((r) => [
      r.backlog.toLocaleString("en-US"),
      `${r.latencyMs} ms`,
      formatNumber(r.commitsPerSecond, 1),
      formatNumber(r.opsPerCommit, 1),
      formatNumber(r.requestsPerSecond, 1),
      formatNumber(r.requestP50),
      formatNumber(r.requestP99),
      formatBytes(r.stateBytes),
      formatNumber(r.applyMs, 3),
      formatNumber(r.encodeMs, 3),
      formatNumber(r.startMs, 1),
      String(r.errors),
    ]),
    notes: [
      `${scenario.clients} in-process clients, each looping push 1 job → claim 1 → complete it ` +
      `through \`broker.request\` (closed loop, the backlog stays level); ` +
      `${scenario.warmupMs} ms warm-up, then ${scenario.durationMs} ms measured.`,
      "Store: `FaultyStore({latencyMs})` over `MemoryStore` (the latency is added to every " +
      "get and put). Payload `{id, message}` with a 100-byte string.",
      "ops/commit = client requests carried per log record (the broker's `committedRequests / commits`).",
      "record size: the broker's last log record. apply/encode ms: `applyBatch`, then " +
      "`batchEffects` + `encodeLogRecord` (what a commit writes), of one tick with the run's mean " +
      "batch (⅓ push, ⅓ claim, ⅓ complete) on the final state, median of 15.",
      "start ms: `broker.start()` on the pre-loaded version-1 state: its migration (a checkpoint " +
      "of every segment and a head write) and the first log record.",
    ],
  };
  return { results, section };
}
