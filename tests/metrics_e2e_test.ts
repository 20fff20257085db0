/**
 * Scrapes `/metrics` of a live broker server and checks that the values move
 * as jobs are pushed, claimed and completed over the wire.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { InstrumentedStore } from "../storage/instrumented_store.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { serveBroker } from "../server/server.ts";
import { MetricsCollector } from "../server/metrics.ts";
import { parsePrometheus } from "../server/_prometheus_parse.ts";
import { connectClient } from "../worker/client.ts";

Deno.test("/metrics: token required, values move with pushes, claims, completions and connections", async () => {
  const collector = new MetricsCollector();
  const store = new InstrumentedStore({
    store: new MemoryStore(),
    observe: (call) => collector.onStoreCall(call),
  });
  const broker = new Broker({ store, log: (event) => collector.onEvent(event) });
  await broker.start();
  const server = serveBroker({
    backend: broker,
    port: 0,
    token: "metrics-token",
    operator: { broker, collector },
  });
  const scrape = async () => {
    const response = await fetch(`${server.url}/metrics`, {
      headers: { authorization: "Bearer metrics-token" },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await response.text());
  };
  try {
    const denied = await fetch(`${server.url}/metrics`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();

    const before = await scrape();
    assert.equal(before.get("osqueue_jobs_pushed_total"), 0);
    assert.equal(before.get('osqueue_leader{broker_id="' + broker.identity.id + '"}'), 1);
    assert.equal(before.get("osqueue_connections"), 0);
    const commitsBefore = before.get("osqueue_commits_total")!;
    const putsBefore = before.get('osqueue_store_request_duration_seconds_count{op="put"}')!;

    const client = connectClient({ url: server.url, token: "metrics-token" });
    try {
      await client.push([
        { type: "resize", payload: { n: 1 } },
        { type: "resize", payload: { n: 2 } },
        { type: "mail", payload: { n: 3 } },
      ]);
      const [job] = (await client.claim({ workerId: "w-1", types: ["resize"] })).jobs;
      const during = await scrape();
      assert.equal(during.get("osqueue_jobs_pushed_total"), 3);
      assert.equal(during.get('osqueue_jobs{state="ready",type="resize"}'), 1);
      assert.equal(during.get('osqueue_jobs{state="active",type="resize"}'), 1);
      assert.equal(during.get('osqueue_jobs{state="ready",type="mail"}'), 1);
      assert.equal(during.get("osqueue_connections"), 1);
      assert.ok(during.get("osqueue_commits_total")! >= commitsBefore + 2);
      assert.ok(
        during.get('osqueue_store_request_duration_seconds_count{op="put"}')! >= putsBefore + 2,
      );

      await client.complete(job.id, job.leaseToken);
      const after = await scrape();
      assert.equal(after.get("osqueue_jobs_completed_total"), 1);
      assert.equal(after.get('osqueue_jobs{state="active",type="resize"}'), undefined);
      assert.equal(after.get('osqueue_jobs{state="completed",type="resize"}'), 1);
      assert.ok(
        after.get("osqueue_committed_requests_total")! >
          during.get("osqueue_committed_requests_total")!,
      );
    } finally {
      await client.close();
    }
  } finally {
    await server.shutdown();
    await broker.stop();
  }
});
