/**
 * Browser access in a real browser (headless Chromium): a page from an
 * allowed origin uses REST through CORS (with its preflight) and a WebSocket
 * with a scoped worker token; a page from any other origin can neither open
 * a WebSocket nor create a job with a cross-site `no-cors` POST.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { browserTestOptions, launchChromium } from "./_browser.ts";

/** A tiny web server for one blank page (its own origin). */
function servePage(): Deno.HttpServer<Deno.NetAddr> & { origin: string } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response("<!doctype html><title>page</title>", {
        headers: { "content-type": "text/html" },
      }),
  );
  return Object.assign(server, { origin: `http://127.0.0.1:${server.addr.port}` });
}

Deno.test({
  name:
    "browser: an allowed page uses CORS REST and a scoped WebSocket; a foreign page gets nothing",
  ...browserTestOptions(),
  fn: async () => {
    const allowed = servePage();
    const foreign = servePage();
    const broker = new Broker({ store: new MemoryStore() });
    await broker.start();
    const server = serveBroker({
      backend: broker,
      hostname: "127.0.0.1",
      port: 0,
      allowOrigins: [allowed.origin],
      tokens: [
        { token: "page-producer", role: "producer" },
        { token: "page-worker", role: "worker", types: ["email"] },
      ],
    });
    try {
      await using browser = await launchChromium();
      const page = await browser.newPage();

      await page.goto(allowed.origin);
      const fromAllowed = await page.evaluate(async (broker: string) => {
        const pushed = await fetch(`${broker}/v1/jobs`, {
          method: "POST",
          headers: { authorization: "Bearer page-producer", "content-type": "application/json" },
          body: JSON.stringify({ type: "email", payload: { to: "a@example.com" } }),
        });
        const push = { status: pushed.status, body: await pushed.json() };
        const ws = new WebSocket(`${broker.replace("http", "ws")}/ws`);
        const replies: Record<string, { result?: unknown; error?: { code: string } }> = {};
        await new Promise<void>((resolve, reject) => {
          ws.onopen = () => resolve();
          ws.onerror = () => reject(new Error("websocket refused"));
        });
        ws.onmessage = (event) => {
          const frame = JSON.parse(event.data);
          replies[frame.id] = frame;
        };
        const call = async (id: string, method: string, params: unknown) => {
          ws.send(JSON.stringify({ id, method, params }));
          while (!(id in replies)) await new Promise((r) => setTimeout(r, 10));
          return replies[id];
        };
        await call("hello", "hello", { token: "page-worker" });
        const claim = await call("claim", "claim", { workerId: "browser" });
        const pushAsWorker = await call("push", "push", { jobs: [{ type: "x", payload: 1 }] });
        const cancelAsWorker = await call("cancel", "cancel", { jobId: push.body.id });
        ws.close();
        return { push, claim, pushAsWorker, cancelAsWorker };
      }, server.url);
      assert.equal(fromAllowed.push.status, 201);
      const claimed = (fromAllowed.claim.result as { jobs: { id: string }[] }).jobs;
      assert.deepEqual(claimed.map((job) => job.id), [fromAllowed.push.body.id]);
      assert.equal(fromAllowed.pushAsWorker.error?.code, "forbidden");
      assert.equal(fromAllowed.cancelAsWorker.error?.code, "forbidden");

      await page.goto(foreign.origin);
      const fromForeign = await page.evaluate(async (broker: string) => {
        const opened = await new Promise<boolean>((resolve) => {
          const ws = new WebSocket(`${broker.replace("http", "ws")}/ws`);
          ws.onopen = () => {
            ws.close();
            resolve(true);
          };
          ws.onerror = () => resolve(false);
        });
        // A cross-site form-like POST: the browser sends it without asking (no preflight).
        await fetch(`${broker}/v1/jobs`, {
          method: "POST",
          mode: "no-cors",
          headers: { "content-type": "text/plain" },
          body: JSON.stringify({ type: "email", payload: "csrf" }),
        });
        let corsRead = "read";
        try {
          await (await fetch(`${broker}/v1/stats`)).json();
        } catch {
          corsRead = "blocked";
        }
        return { opened, corsRead };
      }, server.url);
      assert.equal(fromForeign.opened, false, "no WebSocket from a foreign origin");
      assert.equal(fromForeign.corsRead, "blocked");
      const stats = await broker.request({ op: "stats" });
      assert.equal(stats.totals.pushed, 1, "the foreign no-cors POST created nothing");
    } finally {
      await server.shutdown();
      await broker.stop();
      await allowed.shutdown();
      await foreign.shutdown();
    }
  },
});
