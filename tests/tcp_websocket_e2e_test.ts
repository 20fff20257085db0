/**
 * The client over {@linkcode TcpWebSocket} (no Nagle) against a real broker
 * server: batch frames both ways, payloads over 1 KiB, push delivery to
 * workers, and every job handled once.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { connectClient } from "../worker/client.ts";
import { TcpWebSocket } from "../worker/tcp_websocket.ts";
import { Worker } from "../worker/worker.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("TcpWebSocket clients: 300 pushes in flight, two workers run each job once", async () => {
  const broker = new Broker({ store: new MemoryStore(), identity: { id: "e2e-tcp" } });
  await broker.start();
  const server = serveBroker({ backend: broker, hostname: "127.0.0.1", port: 0 });
  const producer = connectClient({ url: server.url, WebSocket: TcpWebSocket });
  const workerClients = [0, 1].map(() =>
    connectClient({ url: server.url, WebSocket: TcpWebSocket })
  );
  const handled = new Map<number, number>();
  const workers = workerClients.map((client, w) =>
    new Worker({
      client,
      workerId: `w${w}`,
      concurrency: 8,
      handlers: {
        bulk: (job) => {
          const { n, text } = job.payload as { n: number; text: string };
          assert.equal(text.length, n % 2 === 0 ? 2000 : 10);
          handled.set(n, (handled.get(n) ?? 0) + 1);
        },
      },
    })
  );
  try {
    // All in one turn: they leave as batch frames, the 2,000-character ones too.
    const pushed = await Promise.all(
      Array.from(
        { length: 300 },
        (_, n) =>
          producer.push({
            type: "bulk",
            payload: { n, text: "é".repeat(n % 2 === 0 ? 2000 : 10) },
          }),
      ),
    );
    assert.equal(new Set(pushed.map((reply) => reply.jobs[0].id)).size, 300);
    await Promise.all(workers.map((worker) => worker.start()));
    await waitFor(async () => (await producer.stats()).totals.completed === 300 || undefined, {
      message: "300 completed",
    });
    assert.equal(handled.size, 300);
    assert.ok([...handled.values()].every((count) => count === 1));
  } finally {
    await Promise.all(workers.map((worker) => worker.stop({ timeoutMs: 2000 })));
    await Promise.all([producer, ...workerClients].map((client) => client.close()));
    await server.shutdown();
    await broker.stop();
  }
});
