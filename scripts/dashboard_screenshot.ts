/**
 * Takes the README's dashboard screenshot (docs/dashboard.png): an in-process
 * broker, two workers and a producer running for about a minute, then
 * headless chromium. Run: `deno run -A scripts/dashboard_screenshot.ts`.
 *
 * @module
 */
import { Broker } from "../broker/broker.ts";
import { ArchiveReader } from "../broker/archive_reader.ts";
import { InstrumentedStore } from "../storage/instrumented_store.ts";
import { DirectoryStore } from "../storage/directory_store.ts";
import { serveBroker } from "../server/server.ts";
import { MetricsCollector } from "../server/metrics.ts";
import { connectClient } from "../worker/client.ts";
import { Worker } from "../worker/worker.ts";
import { launchChromium } from "../tests/_browser.ts";

const seconds = Number(Deno.args[0] ?? 60);
const root = await Deno.makeTempDir({ prefix: "osqueue-shot-" });
const collector = new MetricsCollector();
const store = new InstrumentedStore({
  store: new DirectoryStore({ root }),
  observe: (call) => collector.onStoreCall(call),
});
const broker = new Broker({ store, log: (event) => collector.onEvent(event) });
await broker.start();
const server = serveBroker({
  backend: broker,
  port: 0,
  operator: { broker, collector, archive: new ArchiveReader({ store }) },
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const handlers = {
  "email:send": async () => {
    await sleep(20 + Math.random() * 60);
    if (Math.random() < 0.08) throw new Error("SMTP 421: try again later");
    return { sent: true };
  },
  "image:resize": async () => {
    await sleep(50 + Math.random() * 150);
    if (Math.random() < 0.03) throw new Error("unsupported image format");
    return { ok: true };
  },
};
const workers = (["email:send", "image:resize"] as const).map((type, i) => {
  const client = connectClient({ url: server.url });
  return {
    client,
    worker: new Worker({
      client,
      workerId: i === 0 ? "mailer-1" : "resizer-1",
      concurrency: 4 + 4 * i,
      handlers: { [type]: handlers[type] },
    }),
  };
});
for (const { worker } of workers) await worker.start();
await broker.request({
  op: "push",
  jobs: [{ type: "report:monthly", payload: { month: 11 }, delayMs: 3_600_000 }],
});
const end = Date.now() + seconds * 1000;
let stop = false;
const producer = (async () => {
  let n = 0;
  while (!stop) {
    const count = Math.max(1, Math.round(4 + 3 * Math.sin((Date.now() - end) / 9000)));
    await broker.request({
      op: "push",
      jobs: Array.from({ length: count }, () => ({
        type: n++ % 3 === 0 ? "image:resize" : "email:send",
        payload: { n, to: `user${n}@example.com` },
        maxAttempts: 2,
        backoff: { type: "fixed" as const, delayMs: 500 },
      })),
    });
    await sleep(100);
  }
})();
await using browser = await launchChromium();
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
await page.goto(`${server.url}/ui#/`);
await page.locator('[data-chart="Throughput (jobs/s)"]').waitFor();
await sleep(Math.max(0, end - Date.now()));
await Deno.mkdir(new URL("../docs/", import.meta.url), { recursive: true });
const path = new URL("../docs/dashboard.png", import.meta.url).pathname;
await page.screenshot({ path });
console.log(`wrote ${path}`);
stop = true;
await producer;
for (const { worker, client } of workers) {
  await worker.stop();
  await client.close();
}
await server.shutdown();
await broker.stop();
await Deno.remove(root, { recursive: true });
