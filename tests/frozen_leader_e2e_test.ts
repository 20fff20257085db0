/**
 * Faults without stalls, across real OS processes (CLI brokers on one
 * `--data` directory):
 *
 * - the leader is frozen with SIGSTOP: a Worker and a producer connected with
 *   `urls: [a, b]` leave it (keepalive) and resume on the standby within the
 *   takeover timeout + 5 s; no acked job is lost; after SIGCONT the old leader
 *   steps down;
 * - SIGTERM under load: the broker exits within a deadline, every request in
 *   flight gets its committed reply or `shutting_down` (never `disconnected`),
 *   and the state records the resign.
 */
import assert from "node:assert/strict";
import type { OsqueueError } from "../errors.ts";
import { connectClient } from "../worker/client.ts";
import { TcpWebSocket } from "../worker/tcp_websocket.ts";
import { Worker } from "../worker/worker.ts";
import { readQueueState } from "../broker/read_state.ts";
import { DirectoryStore } from "../storage/directory_store.ts";
import {
  delay,
  type DenoChild,
  readQueue,
  repoPath,
  spawnDeno,
  tempDir,
  waitFor,
} from "./_helpers.ts";

const TAKEOVER_MS = 3_000;

/** Starts `cli/main.ts broker` on a free port; resolves once it logged its role and URL. */
async function startBroker(
  data: string,
  identity: string,
  extra: string[] = [],
): Promise<{ child: DenoChild; url: string; role: string }> {
  const child = spawnDeno([
    repoPath("cli/main.ts"),
    "broker",
    "--listen",
    "127.0.0.1:0",
    "--data",
    data,
    "--identity",
    identity,
    "--takeover-timeout",
    `${TAKEOVER_MS}ms`,
    "--heartbeat-timeout",
    "5s",
    "--heartbeat-check",
    "500ms",
    "--log-format",
    "json",
    ...extra,
  ], { name: identity });
  try {
    const match = await child.stdout.waitFor(
      /"msg":"broker \S+ (leader|standby) on (http:\/\/[^ "]+)/,
    );
    return { child, url: match[2], role: match[1] };
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(
      `broker ${identity} did not start: ${(error as Error).message}\n${child.output()}`,
    );
  }
}

/**
 * Whether the queue state in `data` records a graceful resign (no leader).
 * Kept in one place: the state layout may change with the persistence rewrite.
 */
async function stateShowsResign(data: string): Promise<boolean> {
  const snapshot = await readQueueState({ store: new DirectoryStore({ root: data }) });
  return snapshot?.head?.leader === null;
}

/** Whether every job id in `ids` is in the queue in `data` (state or archive), completed. */
async function allCompleted(data: string, ids: Iterable<string>): Promise<string[]> {
  const queue = await readQueue(data);
  const missing: string[] = [];
  for (const id of ids) {
    if (queue.find(id)?.state !== "completed") missing.push(`${id}:${queue.find(id)?.state}`);
  }
  return missing;
}

Deno.test({
  name:
    "frozen leader: worker and producer resume on the standby within takeover + 5 s; no acked job lost",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using dir = await tempDir();
    const a = await startBroker(dir.path, "a");
    assert.equal(a.role, "leader");
    const b = await startBroker(dir.path, "b");
    assert.equal(b.role, "standby");
    const urls = [a.url, b.url];
    const errors: OsqueueError[] = [];
    const producer = connectClient({ urls, clientId: "producer", onError: (e) => errors.push(e) });
    const workerClient = connectClient({
      urls,
      clientId: "worker",
      onError: (e) => errors.push(e),
    });
    const started = new Map<number, number>(); // n → when its handler first started
    const worker = new Worker({
      client: workerClient,
      workerId: "w",
      concurrency: 4,
      handlers: {
        e2e: (job) => {
          const n = (job.payload as { n: number }).n;
          if (!started.has(n)) started.set(n, Date.now());
          return { n };
        },
      },
      log: () => {},
    });
    const acked = new Map<number, { id: string; at: number }>();
    let pushing = true;
    const pushLoop = (async () => {
      for (let n = 0; pushing; n++) {
        // Retry each push until acked; the idempotency key makes retries safe.
        while (pushing) {
          try {
            const { jobs } = await producer.push({
              type: "e2e",
              payload: { n },
              idempotencyKey: `job-${n}`,
            });
            acked.set(n, { id: jobs[0].id, at: Date.now() });
            break;
          } catch {
            await delay(50);
          }
        }
        await delay(25);
      }
    })();
    try {
      await worker.start();
      await waitFor(() => started.size >= 10, { message: "jobs running before the freeze" });

      a.child.kill("SIGSTOP");
      const frozenAt = Date.now();
      // The worker runs a job pushed after the freeze: it and the producer have
      // both moved to b, which has taken over.
      const resumedAt = await waitFor(() => {
        for (const [n, at] of started) {
          const ack = acked.get(n);
          if (ack !== undefined && ack.at > frozenAt) return at;
        }
        return undefined;
      }, { timeoutMs: TAKEOVER_MS + 15_000, message: "a job pushed after the freeze to run" });
      const resumedAfter = resumedAt - frozenAt;
      assert.ok(
        resumedAfter <= TAKEOVER_MS + 5_000,
        `the worker resumed ${resumedAfter} ms after the freeze (takeover ${TAKEOVER_MS} ms)`,
      );
      await b.child.stdout.waitFor(/"msg":"leader","how":"takeover"/, { timeoutMs: 1 });

      // Let it run a little on b, then stop pushing and let every acked job finish.
      const count = acked.size;
      await waitFor(() => acked.size >= count + 10, { message: "more pushes acked on b" });
      pushing = false;
      await pushLoop;
      await waitFor(() => [...acked.keys()].every((n) => started.has(n)), {
        timeoutMs: 20_000,
        message: () =>
          `every acked job to run; missing ${
            [...acked.keys()].filter((n) => !started.has(n)).join(",")
          }`,
      });

      // The old leader, resumed, finds it was deposed and steps down.
      a.child.kill("SIGCONT");
      await a.child.stdout.waitFor(/"msg":"step-down"/, { timeoutMs: 15_000 });

      await worker.stop({ timeoutMs: 5_000 });
      const ids = [...acked.values()].map((v) => v.id);
      let missing: string[] = [];
      await waitFor(async () => (missing = await allCompleted(dir.path, ids)).length === 0, {
        timeoutMs: 10_000,
        message: () => `every acked job completed in the store; not: ${missing.join(" ")}`,
      });
    } catch (error) {
      console.error(a.child.output());
      console.error(b.child.output());
      throw error;
    } finally {
      pushing = false;
      await pushLoop;
      a.child.kill("SIGCONT");
      await worker.stop({ timeoutMs: 1_000 });
      await producer.close();
      await workerClient.close();
      a.child.kill("SIGTERM");
      b.child.kill("SIGTERM");
      await Promise.allSettled([a.child.exit(15_000), b.child.exit(15_000)]);
    }
  },
});

Deno.test({
  name:
    "SIGTERM under load: exits within a deadline, in-flight requests get their replies, the state shows a resign",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await using dir = await tempDir();
    const broker = await startBroker(dir.path, "solo");
    assert.equal(broker.role, "leader");
    // TcpWebSocket, as the README says for Deno: Deno's own client holds a turn's
    // frames after the first until the broker's delayed ACK, so they could arrive
    // after the SIGTERM and be refused (then wait in vain for another broker).
    const clients = Array.from(
      { length: 4 },
      (_, i) => connectClient({ url: broker.url, clientId: `c${i}`, WebSocket: TcpWebSocket }),
    );
    try {
      await Promise.all(clients.map((client) => client.stats())); // connected
      const outcomes: Promise<{ id?: string; code?: string }>[] = [];
      for (let i = 0; i < 250; i++) {
        for (const [c, client] of clients.entries()) {
          outcomes.push(
            client.push({ type: "load", payload: { c, i } }).then(
              ({ jobs }) => ({ id: jobs[0].id }),
              (error: OsqueueError) => ({ code: error.code }),
            ),
          );
        }
      }
      // SIGTERM as soon as the first push is acked, with the rest in flight.
      await Promise.race(outcomes);
      const signalledAt = Date.now();
      broker.child.kill("SIGTERM");
      const status = await broker.child.exit(15_000);
      const exitedAfter = Date.now() - signalledAt;
      assert.equal(status.code, 0, broker.child.output());
      assert.ok(exitedAfter < 15_000, `exited ${exitedAfter} ms after SIGTERM`);
      const results = await Promise.all(outcomes);
      const codes = new Map<string, number>();
      for (const result of results) {
        const key = result.code ?? "ok";
        codes.set(key, (codes.get(key) ?? 0) + 1);
      }
      // Every request the broker had taken was answered: committed, or refused
      // with shutting_down — none was cut off by a closing socket.
      assert.deepEqual(
        [...codes.keys()].filter((code) => code !== "ok" && code !== "shutting_down"),
        [],
        `outcomes: ${JSON.stringify(Object.fromEntries(codes))}`,
      );
      assert.ok((codes.get("ok") ?? 0) > 0, "some pushes were committed before the shutdown");
      assert.ok(await stateShowsResign(dir.path), "the state records the resign (no leader)");
      const queue = await readQueue(dir.path);
      for (const result of results) {
        if (result.id !== undefined) {
          assert.ok(queue.find(result.id), `acked job ${result.id} kept`);
        }
      }
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      broker.child.kill("SIGKILL");
      await broker.child.status;
    }
  },
});
