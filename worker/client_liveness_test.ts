/**
 * Client liveness: the `ping` keepalive drops a connection whose broker
 * stopped answering (frozen, black-holed), the client then tries every URL it
 * was given, does not follow hints back to a broker that does not answer, and
 * bounds connecting with `connectTimeoutMs`.
 */
import assert from "node:assert/strict";
import { DisconnectedError, InvalidError, type OsqueueError } from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import { OsqueueClient } from "./client.ts";
import { startStubServer, type StubScript, type StubServer, waitUntil } from "./_test_server.ts";

const fastReconnect = { minDelayMs: 1, maxDelayMs: 5, random: () => 0.5 };
const liveness = { keepaliveMs: 100, keepaliveTimeoutMs: 200, connectTimeoutMs: 300 };

/** A stub that answers everything like a healthy leader. */
const healthy: StubScript = (request) => {
  switch (request.method) {
    case "ping":
      return { result: { pong: true } };
    case "stats":
      return { result: { ready: 1 } };
    case "subscribe":
    case "credit":
    case "unsubscribe":
      return { result: { ok: true } };
  }
  return undefined;
};

/** A stub that greets and then never answers anything again, like a frozen process. */
const frozenAfterHello: StubScript = () => undefined;

async function withStubs(
  scripts: StubScript[],
  run: (servers: StubServer[]) => Promise<void>,
): Promise<void> {
  const servers = scripts.map((script) => startStubServer(script));
  try {
    await run(servers);
  } finally {
    await Promise.all(servers.map((server) => server.close()));
  }
}

Deno.test("liveness: an unanswered ping drops the connection at once; waiting requests fail with disconnected", async () => {
  await withStubs([frozenAfterHello, healthy], async ([frozen, good]) => {
    const errors: OsqueueError[] = [];
    const client = new OsqueueClient({
      urls: [frozen.url, good.url],
      ...liveness,
      reconnect: fastReconnect,
      onError: (error) => errors.push(error),
    });
    try {
      const started = Date.now();
      // The request hangs on the frozen broker; the keepalive gives up on it
      // long before the 30 s request timeout.
      await assert.rejects(client.stats(), DisconnectedError);
      const waited = Date.now() - started;
      assert.ok(waited < 5_000, `the request waited ${waited} ms`);
      assert.ok(frozen.requests.some((r) => r.method === "ping"), "a ping was sent");
      assert.ok(errors.some((e) => /ping/.test(e.message)), "the drop is reported");
      // The next request goes to the next URL.
      assert.deepEqual(await client.stats(), { ready: 1 });
      assert.equal(client.url, good.url);
    } finally {
      await client.close();
    }
  });
});

Deno.test("liveness: a subscription leaves a broker that stops answering for the next URL", async () => {
  let frozen = false;
  const first: StubScript = (request) => frozen ? undefined : healthy(request, undefined!);
  await withStubs([first, healthy], async ([a, b]) => {
    const client = new OsqueueClient({
      urls: [a.url, b.url],
      ...liveness,
      reconnect: fastReconnect,
      onError: () => {},
    });
    try {
      const delivered: ClaimedJob[] = [];
      await client.subscribe({ workerId: "w", credits: 2 }, (jobs) => delivered.push(...jobs));
      // Pings are answered while a is healthy: the connection stays.
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(a.connections.length, 1);
      assert.ok(a.requests.filter((r) => r.method === "ping").length >= 2, "keepalive pings");
      assert.equal(b.connections.length, 0);
      frozen = true;
      await waitUntil(
        () => b.requests.some((r) => r.method === "subscribe"),
        "re-subscribe on b",
        5_000,
      );
      const subscribe = b.requests.find((r) => r.method === "subscribe");
      assert.deepEqual(subscribe?.params, { workerId: "w", credits: 2 });
    } finally {
      await client.close();
    }
  });
});

Deno.test("liveness: a standby naming a leader that does not answer is not followed; the client waits for a takeover", async () => {
  // A port nobody listens on: the old leader is gone.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadUrl = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  let promoted = false;
  const standby: StubScript = (request) => {
    if (request.method === "hello") {
      return {
        result: promoted
          ? { brokerId: "b", leader: true }
          : { brokerId: "b", leader: false, leaderUrl: deadUrl },
      };
    }
    return healthy(request, undefined!);
  };
  await withStubs([standby], async ([b]) => {
    const client = new OsqueueClient({
      urls: [deadUrl, b.url],
      ...liveness,
      reconnect: { minDelayMs: 10, maxDelayMs: 50, random: () => 0.5 },
    });
    try {
      setTimeout(() => (promoted = true), 300);
      assert.deepEqual(await client.stats(), { ready: 1 });
      assert.equal(client.url, b.url);
      assert.ok(b.connections.length >= 2, "the standby was asked again until it led");
    } finally {
      await client.close();
    }
  });
});

Deno.test("liveness: connectTimeoutMs bounds a WebSocket upgrade that never completes", async () => {
  // Accepts TCP connections and never answers, like a frozen process's listen backlog.
  const blackHole = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of blackHole) held.push(conn);
    } catch {
      // closed
    }
  })();
  const holeUrl = `http://127.0.0.1:${(blackHole.addr as Deno.NetAddr).port}`;
  await withStubs([healthy], async ([good]) => {
    const client = new OsqueueClient({
      urls: [holeUrl, good.url],
      ...liveness,
      reconnect: fastReconnect,
    });
    try {
      const started = Date.now();
      assert.deepEqual(await client.stats(), { ready: 1 });
      const waited = Date.now() - started;
      assert.ok(waited < 5_000, `connecting took ${waited} ms`);
      assert.equal(client.url, good.url);
    } finally {
      await client.close();
    }
  });
  blackHole.close();
  for (const conn of held) conn.close();
  await accepting;
});

Deno.test("liveness: url and urls are merged; a client needs at least one", () => {
  assert.throws(() => new OsqueueClient({}), InvalidError);
  assert.throws(() => new OsqueueClient({ urls: ["ftp://x"] }), InvalidError);
  assert.throws(() => new OsqueueClient({ url: "http://a", keepaliveMs: -1 }), InvalidError);
  const client = new OsqueueClient({ url: "http://a:1", urls: ["http://a:1/", "http://b:2"] });
  assert.equal(client.url, "http://a:1");
});

Deno.test("liveness: a shutting_down reply moves the request (not applied) to the next broker, once", async () => {
  const stopping: StubScript = (request) =>
    request.method === "stats"
      ? { error: { code: "shutting_down", message: "the server is shutting down" } }
      : healthy(request, undefined!);
  await withStubs([stopping, healthy], async ([a, b]) => {
    const client = new OsqueueClient({
      urls: [a.url, b.url],
      ...liveness,
      reconnect: fastReconnect,
    });
    try {
      assert.deepEqual(await client.stats(), { ready: 1 });
      assert.equal(client.url, b.url);
      assert.equal(a.requests.filter((r) => r.method === "stats").length, 1);
    } finally {
      await client.close();
    }
  });
  await withStubs([stopping], async ([a]) => {
    const client = new OsqueueClient({ url: a.url, ...liveness, reconnect: fastReconnect });
    try {
      await assert.rejects(client.stats(), { code: "shutting_down" });
      assert.equal(a.requests.filter((r) => r.method === "stats").length, 2, "retried once");
    } finally {
      await client.close();
    }
  });
});

Deno.test("liveness: a subscription on a broker that shuts down moves to the next one", async () => {
  let stopping = false;
  const first: StubScript = (request) =>
    stopping && request.method !== "hello"
      ? { error: { code: "shutting_down", message: "the server is shutting down" } }
      : healthy(request, undefined!);
  await withStubs([first, healthy], async ([a, b]) => {
    const client = new OsqueueClient({
      urls: [a.url, b.url],
      ...liveness,
      reconnect: fastReconnect,
      onError: () => {},
    });
    try {
      await client.subscribe({ workerId: "w", credits: 1 }, () => {});
      stopping = true;
      // A request refused with shutting_down moves the client, and the
      // subscription follows once the old socket is retired.
      await client.credit(1).catch(() => {});
      assert.deepEqual(await client.stats(), { ready: 1 });
      await waitUntil(() => b.requests.some((r) => r.method === "subscribe"), "re-subscribe on b");
    } finally {
      await client.close();
    }
  });
});
