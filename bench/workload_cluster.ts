/**
 * The test bed of the workload suite: a broker over a counting store behind
 * a server, a producer and workers over WebSocket, and the counters read
 * from them.
 *
 * @module
 */
import { Broker, type BrokerMetrics } from "../broker/broker.ts";
import { type BrokerServer, serveBroker } from "../server/server.ts";
import { readQueueState } from "../broker/read_state.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import type { JsonValue } from "../protocol/operations.ts";
import { FaultyStore, type FaultyStoreStats } from "../storage/faulty_store.ts";
import { connectClient, type OsqueueClient } from "../worker/client.ts";
import { type JobContext, type UntypedSchemas, Worker } from "../worker/worker.ts";
import { type BackendName, type OpenedStore, openStore } from "./backends.ts";
import type { WorkloadOptions } from "./workload_types.ts";
import { TcpWebSocket } from "../worker/tcp_websocket.ts";

/** The 100-byte message of every payload. */
const MESSAGE = "x".repeat(100);
/** The job type of every job. */
export const TYPE = "bench";
/** The head key the broker writes. */
const STATE_KEY = "queue.json";

/** A broker server over a counting store, a producer client and (not yet started) workers. */
export interface Cluster {
  /** The store under test, as opened (and cleaned up) by the bench. */
  opened: OpenedStore;
  /** Requests that reached the broker through the server, `stats` excluded. */
  requests: () => number;
  /** The counting store the broker writes through. */
  store: FaultyStore;
  /** The broker. */
  broker: Broker;
  /** The server in front of the broker. */
  server: BrokerServer;
  /** The producer's client. */
  producer: OsqueueClient;
  /** The workers, each with its own client; not started. */
  workers: { client: OsqueueClient; worker: Worker }[];
  /** Warnings and errors the workers logged. */
  warnings: () => number;
  /** Stops the workers, the clients, the server and the broker; cleans up the store. */
  close(): Promise<void>;
}

/**
 * Starts a broker on a fresh `backend` store behind a server on a free port,
 * with a producer and (not yet started) workers whose handler is `handler`.
 */
export async function startCluster(
  backend: BackendName,
  options: WorkloadOptions,
  label: string,
  handler: (job: JobContext) => void,
): Promise<Cluster> {
  const opened = await openStore(backend, { label, s3: options.s3 });
  const store = new FaultyStore(opened.store);
  const broker = new Broker({ ...options.broker, store, stateKey: STATE_KEY });
  await broker.start();
  let requests = 0;
  const counted: QueueBackend = {
    request(operation, requestOptions) {
      if (operation.op !== "stats") requests++;
      return broker.request(operation, requestOptions);
    },
    leaderInfo: () => broker.leaderInfo(),
  };
  const server = serveBroker({ backend: counted, port: 0 });
  const producer = connectClient({
    url: server.url,
    clientId: "bench-producer",
    WebSocket: TcpWebSocket,
  });
  let warnings = 0;
  const workers = Array.from({ length: options.workers ?? 4 }, (_, i) => {
    const client = connectClient({
      url: server.url,
      clientId: `bench-worker-${i}`,
      WebSocket: TcpWebSocket,
    });
    const worker = new Worker<UntypedSchemas>({
      client,
      workerId: `bench-worker-${i}`,
      concurrency: options.concurrency ?? 16,
      handlers: { [TYPE]: handler },
      log: (level) => {
        if (level === "warn" || level === "error") warnings++;
      },
    });
    return { client, worker };
  });
  return {
    opened,
    requests: () => requests,
    store,
    broker,
    server,
    producer,
    workers,
    warnings: () => warnings,
    async close() {
      await Promise.all(workers.map(({ worker }) => worker.stop({ timeoutMs: 5_000 })));
      await Promise.all(workers.map(({ client }) => client.close()));
      await producer.close();
      await server.shutdown();
      await broker.stop();
      await opened.cleanup();
    },
  };
}

/** The counters of a cluster at one moment. */
export interface Snapshot {
  /** `performance.now()`. */
  at: number;
  /** Requests that reached the broker, `stats` excluded. */
  requests: number;
  /** The store's call counters. */
  store: FaultyStoreStats;
  /** The broker's metrics. */
  broker: BrokerMetrics;
}

/** Reads the counters of `cluster` now. */
export function snapshot(cluster: Cluster): Snapshot {
  return {
    at: performance.now(),
    requests: cluster.requests(),
    store: cluster.store.stats,
    broker: cluster.broker.metrics,
  };
}

/** Time, writes per 1,000 jobs, operations and requests per commit between two snapshots. */
export function delta(from: Snapshot, to: Snapshot, jobs: number) {
  const commits = to.broker.commits - from.broker.commits;
  const operations = to.broker.committedRequests - from.broker.committedRequests;
  return {
    seconds: (to.at - from.at) / 1000,
    writesPer1000: ((to.store.puts - from.store.puts) / jobs) * 1000,
    opsPerCommit: commits > 0 ? operations / commits : NaN,
    requestsPerCommit: commits > 0 ? (to.requests - from.requests) / commits : NaN,
  };
}

/** The payload of job `id`: `{id, message}` with a 100-byte message. */
export function payload(id: number): JsonValue {
  return { id, message: MESSAGE };
}

/** Polls `stats` until `target` jobs are completed (the count of the committed state). */
export async function waitCompleted(client: OsqueueClient, target: number, timeoutMs: number) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const stats = await client.stats();
    if (stats.totals.completed >= target) return;
    if (performance.now() > deadline) {
      throw new Error(`timed out: ${stats.totals.completed} of ${target} jobs completed`);
    }
    await sleep(5);
  }
}

/** Reads the state from the store itself (head, checkpoint, log) and returns its completed count. */
export async function storedCompleted(cluster: Cluster): Promise<number> {
  const snapshot = await readQueueState({ store: cluster.opened.store, headKey: STATE_KEY });
  if (snapshot === null) throw new Error("the queue state is missing");
  return snapshot.state.totals.completed;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
