/**
 * Serverless throughput: 1, 2 and 4 `deno serve` instances of the deploy
 * handler (examples/deploy/main.ts) behind a round-robin proxy, on the S3
 * endpoint of the environment (radosgw: `source /tmp/osqueue-rgw/env.sh`).
 * Producers push jobs one per request while Workers complete them, all
 * through the proxy; reports jobs/s from the first push to the last
 * completion, and the commits and conflicts the instances logged.
 *
 * ```sh
 * source /tmp/osqueue-rgw/env.sh
 * deno run -A bench/serverless.ts --jobs 1000 --instances 1,2,4
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { S3Store } from "../storage/s3_store.ts";
import { connectClient } from "../worker/client.ts";
import { Worker } from "../worker/worker.ts";
import { LineLog, repoPath, ROOT } from "../tests/_helpers.ts";
import { startRoundRobinProxy } from "../tests/_round_robin_proxy.ts";
import { TcpWebSocket } from "../worker/tcp_websocket.ts";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "1000" },
    instances: { type: "string", default: "1,2,4" },
    producers: { type: "string", default: "16" },
    workers: { type: "string", default: "4" },
    poll: { type: "string", default: "1000" },
  },
});
const endpoint = Deno.env.get("OSQUEUE_S3_ENDPOINT");
if (endpoint === undefined) {
  throw new Error("set OSQUEUE_S3_ENDPOINT (source /tmp/osqueue-rgw/env.sh)");
}
const bucket = Deno.env.get("OSQUEUE_S3_BUCKET") ?? "osqueue-test";
const region = Deno.env.get("AWS_REGION") ?? "us-east-1";
const JOBS = Number(values.jobs);

async function startInstance(name: string, env: Record<string, string>) {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "-A",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      repoPath("examples/deploy/main.ts"),
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", OSQUEUE_INSTANCE_ID: name, OSQUEUE_LOG: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new LineLog(process.stdout);
  const stderr = new LineLog(process.stderr);
  const pattern = /Listening on (http:\/\/127\.0\.0\.1:\d+)/;
  const match = await Promise.race([stdout.waitFor(pattern), stderr.waitFor(pattern)]);
  return { process, stdout, url: match[1] };
}

async function run(instanceCount: number): Promise<Record<string, number>> {
  const prefix = `bench-serverless-${crypto.randomUUID().slice(0, 8)}`;
  const env = {
    OSQUEUE_STORAGE: `s3://${bucket}/${prefix}`,
    OSQUEUE_POLL_INTERVAL_MS: values.poll!,
  };
  // The first instance creates the queue; the others load it.
  const first = await startInstance("i0", env);
  await fetch(`${first.url}/healthz`).then((r) => r.body?.cancel());
  const rest = await Promise.all(
    Array.from({ length: instanceCount - 1 }, (_, i) => startInstance(`i${i + 1}`, env)),
  );
  const instances = [first, ...rest];
  const proxy = startRoundRobinProxy(instances.map((i) => i.url));
  const workerClients = Array.from(
    { length: Number(values.workers) },
    () => connectClient({ url: proxy.url, WebSocket: TcpWebSocket }),
  );
  let completed = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const workers = workerClients.map((client, i) =>
    new Worker({
      client,
      workerId: `bench-${i}`,
      concurrency: 16,
      handlers: {
        task: () => {
          if (++completed === JOBS) resolveDone();
          return Promise.resolve(null);
        },
      },
      log: () => {},
    })
  );
  for (const worker of workers) await worker.start();
  const producers = Array.from(
    { length: Number(values.producers) },
    () => connectClient({ url: proxy.url, WebSocket: TcpWebSocket }),
  );
  await Promise.all(producers.map((p) => p.stats()));
  const started = performance.now();
  let next = 0;
  await Promise.all(producers.map(async (client) => {
    while (next < JOBS) {
      next++;
      await client.push({ type: "task", payload: next });
    }
  }));
  const pushedMs = performance.now() - started;
  await done;
  const elapsed = performance.now() - started;
  // Let the last completions land before counting.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const worker of workers) await worker.stop({ timeoutMs: 3000 });
  for (const client of [...producers, ...workerClients]) await client.close();
  await proxy.close();
  let commits = 0;
  let conflicts = 0;
  for (const instance of instances) {
    instance.process.kill("SIGTERM");
    await instance.process.status;
    await instance.stdout.done;
    for (const line of instance.stdout.lines) {
      if (line.includes('"event":"commit"')) commits++;
      if (line.includes('"event":"conflict"')) conflicts++;
    }
  }
  const store = new S3Store({ bucket, prefix, endpoint, region, forcePathStyle: true });
  for (const key of await store.list("")) await store.delete(key);
  store.close();
  return {
    instances: instanceCount,
    jobsPerSecond: Math.round(JOBS / (elapsed / 1000)),
    pushesPerSecond: Math.round(JOBS / (pushedMs / 1000)),
    commits,
    conflicts,
  };
}

const rows = [];
for (const n of values.instances!.split(",").map(Number)) {
  const row = await run(n);
  console.log(JSON.stringify(row));
  rows.push(row);
}
console.log(
  "\n| instances | push→complete jobs/s | pushes/s | log records | conflicts |\n|---|---|---|---|---|",
);
for (const r of rows) {
  console.log(
    `| ${r.instances} | ${r.jobsPerSecond} | ${r.pushesPerSecond} | ${r.commits} | ${r.conflicts} |`,
  );
}
