/**
 * Distributed mode: one program, three roles, each in its own terminal.
 *
 * ```sh
 * deno run -A examples/distributed/main.ts broker [--listen :8080] [--data ./data/distributed]
 * deno run -A examples/distributed/main.ts publisher [N] [--url http://127.0.0.1:8080]
 * deno run -A examples/distributed/main.ts consumer [--url http://127.0.0.1:8080] [--worker NAME]
 * ```
 *
 * The broker keeps the queue in a local directory and serves it over
 * WebSocket; the publisher pushes N tasks (default 10); the consumer claims
 * them with a long-poll, heartbeats while it works (~500 ms per task) and
 * completes them. Run several consumers to share the work. Ctrl-C stops the
 * consumer gracefully: it stops claiming and finishes its current task (a
 * second Ctrl-C gives the task back to the queue at once).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Broker } from "../../broker/broker.ts";
import { serveBroker } from "../../server/server.ts";
import { DirectoryStore } from "../../storage/directory_store.ts";
import { parseListen } from "../../cli/args.ts";
import { type ClaimedJob, connectClient, type OsqueueClient } from "../../worker/mod.ts";
import { TcpWebSocket } from "../../worker/tcp_websocket.ts";

/** The job payload. */
interface Task {
  id: number;
  message: string;
}

const TYPE = "task";
const DEFAULT_URL = "http://127.0.0.1:8080";

const USAGE = `usage: main.ts <broker|publisher|consumer> [options]
  broker     [--listen :8080] [--data ./data/distributed]
  publisher  [N] [--url ${DEFAULT_URL}]
  consumer   [--url ${DEFAULT_URL}] [--worker NAME] [--work-ms 500]`;

const [command, ...rest] = Deno.args;
switch (command) {
  case "broker":
    await runBroker(rest);
    break;
  case "publisher":
    await runPublisher(rest);
    break;
  case "consumer":
    await runConsumer(rest);
    break;
  default:
    console.error(command === undefined ? USAGE : `unknown command: ${command}\n${USAGE}`);
    Deno.exit(2);
}

/** Resolves on the first SIGINT or SIGTERM; `onAgain` runs on later ones. */
function onShutdownSignal(onAgain?: () => void): { signal: Promise<string>; remove(): void } {
  const { promise, resolve } = Promise.withResolvers<string>();
  let count = 0;
  const listeners = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const listener = () => {
      count++;
      if (count === 1) resolve(name);
      else onAgain?.();
    };
    Deno.addSignalListener(name, listener);
    return { name, listener };
  });
  return {
    signal: promise,
    remove: () => {
      for (const { name, listener } of listeners) Deno.removeSignalListener(name, listener);
    },
  };
}

async function runBroker(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      listen: { type: "string", default: ":8080" },
      data: { type: "string", default: "./data/distributed" },
    },
  });
  const listen = parseListen(values.listen);
  const shutdown = onShutdownSignal();
  // The server starts first so that a port of 0 is known before the broker
  // advertises its URL; requests reach the broker once it has started.
  const started: { broker?: Broker } = {};
  const server = serveBroker({
    backend: {
      request: (operation, options) => started.broker!.request(operation, options),
      leaderInfo: () => started.broker?.leaderInfo() ?? { leader: false, brokerId: "starting" },
    },
    hostname: listen.hostname,
    port: listen.port,
  });
  const broker = started.broker = new Broker({
    store: new DirectoryStore({ root: values.data }),
    // A fixed id: a restarted broker takes its leadership back at once.
    identity: { id: "distributed-broker", url: server.url },
    heartbeatTimeoutMs: 30_000,
    heartbeatCheckMs: 5_000,
  });
  await broker.start();
  console.log(`[broker] listening on ${server.url} as ${broker.role} (data in ${values.data})`);
  await shutdown.signal;
  shutdown.remove();
  console.log("[broker] shutting down...");
  // Stop taking requests and answer those in flight, resign, then close the sockets.
  await server.drain();
  await broker.stop();
  await server.shutdown();
  console.log("[broker] stopped");
}

async function runPublisher(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { url: { type: "string", default: DEFAULT_URL } },
    allowPositionals: true,
  });
  const count = positionals[0] === undefined ? 10 : Number(positionals[0]);
  if (!Number.isInteger(count) || count <= 0) {
    console.error(`invalid number of tasks: ${positionals[0]}`);
    Deno.exit(2);
  }
  const client = connectClient({ url: values.url, clientId: "publisher", WebSocket: TcpWebSocket });
  try {
    for (let i = 1; i <= count; i++) {
      const task: Task = { id: i, message: `task-${i}` };
      const { jobs } = await client.push({ type: TYPE, payload: { ...task } });
      console.log(`[publisher] pushed task ${i} (job ${jobs[0].id})`);
    }
    console.log("[publisher] done");
  } finally {
    await client.close();
  }
}

async function runConsumer(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string", default: DEFAULT_URL },
      worker: { type: "string", default: `consumer-${crypto.randomUUID().slice(0, 6)}` },
      "work-ms": { type: "string", default: "500" },
    },
  });
  const workerId = values.worker;
  const workMs = Number(values["work-ms"]);
  const tag = `[consumer ${workerId}]`;
  const client = connectClient({ url: values.url, clientId: workerId, WebSocket: TcpWebSocket });

  let stopping = false;
  let current: { job: ClaimedJob; release: () => void } | undefined;
  const shutdown = onShutdownSignal(() => {
    // A second Ctrl-C: give the current task back now instead of finishing it.
    if (current !== undefined) {
      console.log(`${tag} releasing job ${current.job.id}`);
      current.release();
    }
  });
  shutdown.signal.then(() => {
    stopping = true;
    console.log(
      current === undefined
        ? `${tag} stopping...`
        : `${tag} stopping after job ${current.job.id} (Ctrl-C again to release it)`,
    );
  });

  console.log(`${tag} waiting for jobs... (ctrl-c to stop)`);
  let completed = 0;
  while (!stopping) {
    let jobs: ClaimedJob[];
    try {
      // A long-poll: the broker answers as soon as a task is ready, or after 1 s.
      ({ jobs } = await client.claim({ workerId, types: [TYPE], max: 1, waitMs: 1000 }));
    } catch (error) {
      console.error(`${tag} claim error: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    for (const job of jobs) {
      if (stopping) {
        // Claimed while shutting down: hand it straight back.
        await client.release(job.id, job.leaseToken).catch(() => {});
        continue;
      }
      if (await work(client, job, workerId, workMs, (release) => (current = { job, release }))) {
        completed++;
      }
      current = undefined;
    }
  }
  shutdown.remove();
  await client.close();
  console.log(`${tag} stopped after completing ${completed} jobs`);
}

/** Works on one task: heartbeat while busy, then complete (or release when asked). */
async function work(
  client: OsqueueClient,
  job: ClaimedJob,
  workerId: string,
  workMs: number,
  register: (release: () => void) => void,
): Promise<boolean> {
  const tag = `[consumer ${workerId}]`;
  const task = job.payload as unknown as Task;
  console.log(`${tag} claimed job ${job.id}: ${JSON.stringify(task)} (attempt ${job.attempt})`);
  const lost = new AbortController();
  const released = new AbortController();
  register(() => released.abort());
  // Heartbeat while the task runs, so the broker does not hand it to someone else.
  const stopHeartbeat = client.startHeartbeat(job.id, job.leaseToken, {
    intervalMs: 250,
    onLost: (error) => lost.abort(error),
  });
  try {
    await sleep(workMs, AbortSignal.any([lost.signal, released.signal]));
  } finally {
    stopHeartbeat();
  }
  try {
    if (lost.signal.aborted) {
      console.log(`${tag} lost job ${job.id}: ${(lost.signal.reason as Error).message}`);
      return false;
    }
    if (released.signal.aborted) {
      await client.release(job.id, job.leaseToken);
      console.log(`${tag} released job ${job.id}`);
      return false;
    }
    await client.complete(job.id, job.leaseToken, { by: workerId });
    console.log(`${tag} completed job ${job.id}`);
    return true;
  } catch (error) {
    console.error(`${tag} finishing job ${job.id} failed: ${(error as Error).message}`);
    return false;
  }
}

/** Resolves after `ms`, or early when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
