/**
 * Several named workers sharing one queue: every job is processed by exactly
 * one of them.
 *
 * ```sh
 * # All in one: a broker, N jobs, 3 worker processes; prints per-worker counts.
 * deno run -A examples/workers/main.ts [--workers 3] [--jobs 30] [--concurrency 2]
 *                                      [--data DIR | --url http://127.0.0.1:8080]
 *
 * # Or by hand, against a running broker (`deno task start`):
 * deno run -A examples/workers/main.ts --url http://127.0.0.1:8080 --enqueue 30
 * deno run -A examples/workers/main.ts --url http://127.0.0.1:8080 --worker worker-1
 * deno run -A examples/workers/main.ts --url http://127.0.0.1:8080 --worker worker-2
 * ```
 *
 * In the all-in-one mode the program starts a broker in-process (in memory,
 * or on `--data DIR`) unless `--url` names one, enqueues the jobs, spawns one
 * child process per worker (`--worker worker-1` …), waits until every job is
 * done, stops the workers with SIGINT (each finishes its running jobs and
 * exits), and checks that each job was completed exactly once. A worker run
 * by hand runs until Ctrl-C.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Broker } from "../../broker/broker.ts";
import { serveBroker } from "../../server/server.ts";
import { DirectoryStore } from "../../storage/directory_store.ts";
import { MemoryStore } from "../../storage/memory_store.ts";
import type { ObjectStore } from "../../storage/types.ts";
import {
  connectClient,
  createShutdownHandler,
  JobNotFoundError,
  type OsqueueClient,
  Worker,
} from "../../worker/mod.ts";
import { TcpWebSocket } from "../../worker/tcp_websocket.ts";

const TYPE = "work:item";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    url: { type: "string" },
    data: { type: "string" },
    workers: { type: "string", default: "3" },
    jobs: { type: "string", default: "30" },
    concurrency: { type: "string", default: "2" },
    "work-ms": { type: "string", default: "50" },
    worker: { type: "string" },
    enqueue: { type: "string" },
  },
});

if (values.worker !== undefined) {
  await runWorker(values.worker, requireUrl());
} else if (values.enqueue !== undefined) {
  const client = connectClient({ url: requireUrl(), clientId: "enqueue", WebSocket: TcpWebSocket });
  const ids = await enqueue(client, positiveInt(values.enqueue, "--enqueue"));
  console.log(`enqueued ${ids.length} jobs: ${ids[0]}…${ids.at(-1)}`);
  await client.close();
} else {
  Deno.exit(await runAll());
}

function requireUrl(): string {
  if (values.url !== undefined) return values.url;
  console.error("--url is required with --worker and --enqueue");
  Deno.exit(2);
}

function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`${name}: expected a positive integer, got "${text}"`);
    Deno.exit(2);
  }
  return n;
}

/** Pushes `count` jobs in one request; returns their ids. */
async function enqueue(client: OsqueueClient, count: number): Promise<string[]> {
  const batch = crypto.randomUUID().slice(0, 8);
  const { jobs } = await client.push(
    Array.from({ length: count }, (_, i) => ({
      type: TYPE,
      payload: { n: i + 1, batch },
    })),
  );
  return jobs.map((job) => job.id);
}

/** One worker process: runs jobs until SIGINT/SIGTERM, printing `<name> done <jobId>` per job. */
async function runWorker(name: string, url: string): Promise<void> {
  const workMs = Number(values["work-ms"]);
  const client = connectClient({ url, clientId: name, WebSocket: TcpWebSocket });
  let processed = 0;
  const worker = new Worker({
    client,
    workerId: name,
    concurrency: positiveInt(values.concurrency, "--concurrency"),
    handlers: {
      [TYPE]: async (job) => {
        // Simulated work that stops early if the job is taken away (lease lost, shutdown deadline).
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, workMs);
          job.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            reject(job.signal.reason);
          }, { once: true });
        });
        return { by: name };
      },
    },
    onJobComplete: (job) => {
      processed++;
      console.log(`${name} done ${job.id}`);
    },
  });
  await worker.start();
  console.log(`${name} ready (concurrency ${values.concurrency})`);
  const onSignal = createShutdownHandler(worker, {
    timeoutMs: 10_000,
    onStopped: async () => {
      await client.close();
      console.log(`${name} stopped after ${processed} jobs`);
      Deno.exit(0);
    },
    onError: (error) => {
      console.error(`${name}: shutdown failed:`, error);
      Deno.exit(1);
    },
  });
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
}

/** Reads a child's stdout line by line. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered !== "") yield buffered;
}

/** The all-in-one mode; returns the exit code. */
async function runAll(): Promise<number> {
  const workerCount = positiveInt(values.workers, "--workers");
  const jobCount = positiveInt(values.jobs, "--jobs");

  // A broker, unless --url names a running one.
  let url = values.url;
  let stopBroker = async () => {};
  if (url === undefined) {
    const store: ObjectStore = values.data === undefined
      ? new MemoryStore()
      : new DirectoryStore({ root: values.data });
    const started: { broker?: Broker } = {};
    const server = serveBroker({
      backend: {
        request: (operation, options) => started.broker!.request(operation, options),
        leaderInfo: () => started.broker?.leaderInfo() ?? { leader: false, brokerId: "starting" },
      },
      hostname: "127.0.0.1",
      port: 0,
    });
    const broker = started.broker = new Broker({
      store,
      identity: { id: "workers-example", url: server.url },
      archiveMaxAgeMs: 60_000, // keep finished jobs in the state (readable with `get`) for a minute
    });
    await broker.start();
    url = server.url;
    console.log(`broker ${broker.role} on ${url} (store ${store.description})`);
    stopBroker = async () => {
      await server.shutdown();
      await broker.stop();
    };
  }

  const client = connectClient({ url, clientId: "workers-example", WebSocket: TcpWebSocket });
  const ids = await enqueue(client, jobCount);
  console.log(`enqueued ${ids.length} jobs`);

  // One process per worker; each prints `<name> done <jobId>` per job.
  const doneBy = new Map<string, string[]>(); // job id -> workers that completed it
  const perWorker = new Map<string, number>();
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const children = Array.from({ length: workerCount }, (_, i) => {
    const name = `worker-${i + 1}`;
    perWorker.set(name, 0);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        new URL(import.meta.url).pathname,
        "--url",
        url,
        "--worker",
        name,
        "--concurrency",
        values.concurrency,
        "--work-ms",
        values["work-ms"],
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reading = (async () => {
      for await (const line of lines(child.stdout)) {
        const match = /^(\S+) done (\S+)$/.exec(line);
        if (match === null) {
          console.log(`  ${line}`);
          continue;
        }
        const [, worker, id] = match;
        perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
        doneBy.set(id, [...(doneBy.get(id) ?? []), worker]);
        if (ids.every((jobId) => doneBy.has(jobId))) allDone();
      }
    })();
    return { name, child, reading };
  });

  // Wait until every job is done (or a worker dies), then stop the workers.
  const died = Promise.race(
    children.map(({ name, child }) =>
      child.status.then((status) => `${name} exited early with code ${status.code}`)
    ),
  );
  const outcome = await Promise.race([finished.then(() => undefined), died]);
  for (const { child } of children) {
    try {
      child.kill("SIGINT");
    } catch {
      // already gone
    }
  }
  const statuses = await Promise.all(children.map(({ child }) => child.status));
  await Promise.all(children.map(({ reading }) => reading));

  // Check with the broker: every job completed, each by exactly one worker.
  let completed = 0;
  let archived = 0;
  for (const id of ids) {
    try {
      const { job } = await client.get(id);
      if (job.state === "completed") completed++;
    } catch (error) {
      // Finished jobs leave the state for the archive after a while.
      if (!(error instanceof JobNotFoundError)) throw error;
      archived++;
    }
  }
  await client.close();
  await stopBroker();

  console.log("\nper-worker counts:");
  for (const [name, count] of perWorker) console.log(`  ${name}: ${count}`);
  const duplicates = [...doneBy].filter(([, workers]) => workers.length > 1);
  const missing = ids.filter((id) => !doneBy.has(id));
  console.log(
    `total ${[...perWorker.values()].reduce((a, b) => a + b, 0)} of ${ids.length} jobs; ` +
      `completed ${completed}${archived > 0 ? ` (+${archived} already archived)` : ""}; ` +
      `duplicates ${duplicates.length}; missing ${missing.length}`,
  );
  const ok = outcome === undefined && duplicates.length === 0 && missing.length === 0 &&
    completed + archived === ids.length && statuses.every((status) => status.code === 0);
  if (outcome !== undefined) console.error(outcome);
  console.log(ok ? "OK: every job was processed exactly once" : "FAILED");
  return ok ? 0 : 1;
}
