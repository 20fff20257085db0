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
import {
  manyClients,
  type OperationBytes,
  pendingJobs,
  preload,
  settle,
  singleClient,
  writeCost,
} from "./depth_phases.ts";
import { DEFAULT_DEPTHS, depthSection, formatDepth, loadAverage } from "./depth_table.ts";
import type { DepthBackend, DepthOptions, DepthResult } from "./depth_types.ts";
import type { ProgressLog, Section } from "./report.ts";
import { formatNumber } from "./stats.ts";
import { TcpWebSocket } from "../worker/tcp_websocket.ts";

export type * from "./depth_types.ts";
export { DEFAULT_DEPTHS, depthSection, formatDepth, parseDepth } from "./depth_table.ts";

const IDENTITY = "bench-depth";

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
      const client = connectClient({
        url,
        clientId,
        requestTimeoutMs: 3_600_000,
        WebSocket: TcpWebSocket,
      });
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
    const opBytes: OperationBytes = { operations: 0, bytes: 0 };
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

/** 75 % of the machine's memory, MB (8 GB when unknown). */
function defaultMaxRssMb(): number {
  try {
    return Math.floor((Deno.systemMemoryInfo().total * 0.75) / 1e6);
  } catch {
    return 8_000;
  }
}
