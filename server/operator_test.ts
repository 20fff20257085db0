import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { ArchiveReader } from "../broker/archive_reader.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { MetricsCollector } from "./metrics.ts";
import { serveBroker } from "./server.ts";

async function start(token?: string) {
  const store = new MemoryStore();
  const broker = new Broker({ store });
  await broker.start();
  const server = serveBroker({
    backend: broker,
    port: 0,
    ...(token === undefined ? {} : { token }),
    operator: {
      broker,
      collector: new MetricsCollector(),
      archive: new ArchiveReader({ store }),
      sampleIntervalMs: 30,
    },
  });
  return {
    broker,
    server,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await broker.stop();
    },
  };
}

Deno.test("operator routes: assets without a token, data only with it; security headers", async () => {
  await using q = await start("op-token");
  const page = await fetch(`${q.server.url}/ui`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.match(await page.text(), /<script src="\/ui\/app\.js"/);
  const script = await fetch(`${q.server.url}/ui/app.js`);
  assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);
  new Function(await script.text()); // it parses
  for (
    const path of [
      "/ui/api/overview",
      "/ui/api/events",
      "/ui/api/jobs/1",
      "/metrics",
      "/v1/archive",
    ]
  ) {
    const denied = await fetch(`${q.server.url}${path}`);
    assert.equal(denied.status, 401, path);
    assert.equal((await denied.json()).error.code, "unauthorized");
  }
  const post = await fetch(`${q.server.url}/ui/api/overview`, { method: "POST" });
  assert.equal(post.status, 405);
  await post.body?.cancel();
  const missing = await fetch(`${q.server.url}/ui/api/nothing`, {
    headers: { authorization: "Bearer op-token" },
  });
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("operator routes: overview counts, event stream with samples, job views without tokens", async () => {
  await using q = await start();
  const { broker, server } = q;
  await broker.request({
    op: "push",
    jobs: [{ type: "a", payload: 1 }, { type: "b", payload: 2 }],
  });
  const [held] = (await broker.request({ op: "claim", workerId: "w-7", types: ["a"] })).jobs;
  const overview = await (await fetch(`${server.url}/ui/api/overview`)).json();
  assert.equal(overview.stats.ready, 1);
  assert.deepEqual(overview.byStateAndType.active, { a: 1 });
  assert.equal(overview.broker.leader, true);
  assert.ok(Array.isArray(overview.history) && overview.history.length >= 1);

  const view = await (await fetch(`${server.url}/ui/api/jobs/${held.id}`)).json();
  assert.equal(view.archived, false);
  assert.deepEqual(view.job.lease, { workerId: "w-7", expiresAt: held.leaseExpiresAt });
  const listed = await (await fetch(`${server.url}/v1/jobs?state=active`)).json();
  assert.ok(!JSON.stringify(listed).includes(held.leaseToken));
  const bad = await fetch(`${server.url}/v1/jobs?state=bogus`);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error.message, /state/);
  const badArchive = await fetch(`${server.url}/v1/archive?state=ready`);
  assert.equal(badArchive.status, 400);
  await badArchive.body?.cancel();

  // The event stream: the overview with history first, then samples as the queue moves.
  const controller = new AbortController();
  const response = await fetch(`${server.url}/ui/api/events`, { signal: controller.signal });
  assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const events: { event: string; data: { stats: { totals: { pushed: number } } } }[] = [];
  await broker.request({ op: "push", jobs: [{ type: "c", payload: 3 }] });
  while (!events.some((e) => e.event === "sample" && e.data.stats.totals.pushed === 3)) {
    const { value, done } = await reader.read();
    assert.ok(!done);
    buffer += value;
    let at;
    while ((at = buffer.indexOf("\n\n")) >= 0) {
      const [head, data] = buffer.slice(0, at).split("\n");
      buffer = buffer.slice(at + 2);
      events.push({
        event: head.slice("event: ".length),
        data: JSON.parse(data.slice("data: ".length)),
      });
    }
  }
  assert.equal(events[0].event, "overview");
  controller.abort();
  await reader.cancel().catch(() => {});
});
