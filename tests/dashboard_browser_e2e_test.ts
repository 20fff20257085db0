/**
 * The dashboard in a real browser (headless Debian chromium through
 * playwright-core) against a live in-process broker: what the page shows as
 * jobs are pushed, fail, get retried, promoted, cancelled, deleted and archived,
 * and that it updates without a reload. Screenshots go to `test-output/`.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Broker } from "../broker/broker.ts";
import { ArchiveReader } from "../broker/archive_reader.ts";
import { InstrumentedStore } from "../storage/instrumented_store.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { serveBroker } from "../server/server.ts";
import { MetricsCollector } from "../server/metrics.ts";
import { connectClient } from "../worker/client.ts";
import { Worker } from "../worker/worker.ts";
import { browserTestOptions, launchChromium, screenshotDir } from "./_browser.ts";

const TOKEN = "dash-secret";

async function startBroker(options: { archiveMaxAgeMs?: number } = {}) {
  const collector = new MetricsCollector();
  const store = new InstrumentedStore({
    store: new MemoryStore(),
    observe: (call) => collector.onStoreCall(call),
  });
  const broker = new Broker({
    store,
    archiveMaxAgeMs: options.archiveMaxAgeMs ?? 60_000,
    heartbeatCheckMs: 200,
    log: (event) => collector.onEvent(event),
  });
  await broker.start();
  const server = serveBroker({
    backend: broker,
    port: 0,
    token: TOKEN,
    operator: {
      broker,
      collector,
      archive: new ArchiveReader({ store }),
      sampleIntervalMs: 250,
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

/** Claims the job of `type` and fails it for good: it turns dead. */
async function killOne(broker: Broker, type: string, error: string): Promise<string> {
  const { jobs } = await broker.request({ op: "claim", workerId: "test-worker", types: [type] });
  assert.equal(jobs.length, 1, `a ${type} job to claim`);
  await broker.request({
    op: "fail",
    jobId: jobs[0].id,
    leaseToken: jobs[0].leaseToken,
    error,
    retry: false,
  });
  return jobs[0].id;
}

async function tileValue(page: Page, tile: string): Promise<string> {
  return (await page.locator(`[data-tile="${tile}"] .n`).textContent()) ?? "";
}

Deno.test(
  "dashboard: live counts, dead jobs retried from the page, job detail without the token",
  browserTestOptions(),
  async () => {
    await using queue = await startBroker();
    const { broker, server } = queue;
    await using browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const shots = await screenshotDir();

    // Without the token the page asks for it.
    await page.goto(`${server.url}/ui`);
    await page.locator("#login").waitFor({ state: "visible" });
    await page.fill("#token", "wrong");
    await page.click("#login-form button");
    await page.locator("#login").waitFor({ state: "visible" });
    await page.fill("#token", TOKEN);
    await page.click("#login-form button");
    await page.locator('[data-tile="ready"]').waitFor();
    assert.equal(await tileValue(page, "ready"), "0");

    // Pushed jobs appear without a reload.
    await broker.request({
      op: "push",
      jobs: [
        { type: "mail", payload: { to: "ada@example.com" } },
        { type: "mail", payload: { to: "bob@example.com" } },
        { type: "mail", payload: { to: "cy@example.com" } },
        { type: "sms", payload: { to: "+100" } },
        { type: "report", payload: { month: 11 }, delayMs: 3_600_000 },
      ],
    });
    await page.locator('[data-tile="ready"] .n', { hasText: /^4$/ }).waitFor();
    assert.equal(await tileValue(page, "delayed"), "1");
    assert.match((await page.locator("#by-type").textContent()) ?? "", /mail/);
    assert.match((await page.locator("#broker").textContent()) ?? "", /leader/);

    // Two mail jobs and the sms die; the dead list shows them with their errors.
    const deadMail1 = await killOne(broker, "mail", "SMTP 550: mailbox unavailable");
    const deadMail2 = await killOne(broker, "mail", "SMTP 421: try later");
    const deadSms = await killOne(broker, "sms", "carrier rejected");
    await page.locator('[data-tile="dead"] .n', { hasText: /^3$/ }).waitFor();
    await page.click('[data-tile="dead"]');
    await page.locator(`tr[data-job="${deadSms}"]`).waitFor();
    assert.equal(await page.locator("#jobs tbody tr").count(), 3);
    assert.match(
      (await page.locator(`tr[data-job="${deadMail1}"]`).textContent()) ?? "",
      /SMTP 550: mailbox unavailable/,
    );
    await page.screenshot({ path: `${shots}dashboard-dead.png` });

    // Retry one dead job from its row.
    await page.click(`tr[data-job="${deadSms}"] [data-action="retry"]`);
    await page.locator(`tr[data-job="${deadSms}"]`).waitFor({ state: "detached" });
    assert.match((await page.locator("#message").textContent()) ?? "", /ready again/);
    const smsJob = await broker.request({ op: "get", jobId: deadSms });
    assert.equal(smsJob.job.state, "ready");
    assert.equal(smsJob.job.attempts, 0);

    // Retry all dead of a type: filter by type, then the bulk button.
    await page.selectOption("#type-filter", "mail");
    await page.waitForFunction(() => location.hash === "#/jobs/dead?type=mail");
    await page.locator(`tr[data-job="${deadMail2}"]`).waitFor();
    await page.click("#retry-all");
    await page.locator("text=no dead jobs of type mail").waitFor();
    for (const id of [deadMail1, deadMail2]) {
      assert.equal((await broker.request({ op: "get", jobId: id })).job.state, "ready");
    }

    // Promote the delayed job from the delayed list.
    await page.click('[data-state="delayed"]');
    await page.waitForFunction(() => location.hash.startsWith("#/jobs/delayed"));
    // The type filter of the dead list may still apply (a render can set the select back after
    // it was cleared): open the unfiltered delayed list by its address.
    await page.goto(`${server.url}/ui#/jobs/delayed`);
    await page.selectOption("#type-filter", "");
    const delayed = await broker.request({ op: "list", state: "delayed" });
    const reportId = delayed.jobs[0].id;
    await page.click(`tr[data-job="${reportId}"] [data-action="promote"]`);
    await page.locator(`tr[data-job="${reportId}"]`).waitFor({ state: "detached" });
    assert.equal((await broker.request({ op: "get", jobId: reportId })).job.state, "ready");

    // Job detail of an active job: the holder and expiry, never the lease token.
    const { jobs: [held] } = await broker.request({
      op: "claim",
      workerId: "detail-worker",
      types: ["mail"],
    });
    await page.goto(`${server.url}/ui#/job/${held.id}`);
    await page.locator("#lease").waitFor();
    assert.match(
      (await page.locator("#lease").textContent()) ?? "",
      /detail-worker, lease expires/,
    );
    assert.match((await page.locator("#payload").textContent()) ?? "", /@example\.com/);
    assert.ok(
      !(await page.content()).includes(held.leaseToken),
      "the lease token is not on the page",
    );
    // Cancel it from the detail page.
    await page.click('[data-action="cancel"]');
    await page.locator("#message", { hasText: /cancelled/ }).waitFor();
    assert.equal((await broker.request({ op: "get", jobId: held.id })).job.state, "cancelled");

    // Delete a ready job from the list.
    await page.goto(`${server.url}/ui#/jobs/ready?type=sms`);
    page.once("dialog", (dialog) => dialog.accept());
    await page.click(`tr[data-job="${deadSms}"] [data-action="delete"]`);
    await page.locator(`tr[data-job="${deadSms}"]`).waitFor({ state: "detached" });
    await assert.rejects(() => broker.request({ op: "get", jobId: deadSms }), /not found/);

    await page.goto(`${server.url}/ui#/`);
    await page.locator('[data-chart="Throughput (jobs/s)"]').waitFor();
    await page.screenshot({ path: `${shots}dashboard-overview.png` });
    assert.deepEqual(errors, [], "no script errors on the page");
  },
);

Deno.test(
  "dashboard: completed jobs read back from the archive; a worker shows with its credits",
  browserTestOptions(),
  async () => {
    await using queue = await startBroker({ archiveMaxAgeMs: 100 });
    const { broker, server } = queue;
    const client = connectClient({ url: server.url, token: TOKEN });
    const done: string[] = [];
    const worker = new Worker({
      client,
      workerId: "thumbnailer-1",
      concurrency: 3,
      handlers: {
        thumbnail: (job: { id: string; payload: unknown }) => {
          done.push(job.id);
          if ((job.payload as { image?: string }).image === "broken.png") {
            throw new Error("corrupt PNG header");
          }
          return { ok: true };
        },
      },
    });
    await worker.start();
    try {
      const { jobs } = await broker.request({
        op: "push",
        jobs: [1, 2, 3, 4, 5].map((n) => ({
          type: "thumbnail",
          payload: { image: `img-${n}.png` },
        })),
      });
      const { jobs: [broken] } = await broker.request({
        op: "push",
        jobs: [{ type: "thumbnail", payload: { image: "broken.png" }, maxAttempts: 1 }],
      });
      while (
        done.length < 6 || broker.metrics.archiveWrites === 0 ||
        (await broker.request({ op: "stats" })).finishedPending > 0
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // Archived: gone from the state, read back from the archive.
      assert.equal((await broker.request({ op: "get", jobId: jobs[0].id })).archived, true);

      await using browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${server.url}/ui#token=${TOKEN}`);
      await page.locator("#workers tbody tr", { hasText: "thumbnailer-1" }).waitFor();
      const row =
        (await page.locator("#workers tbody tr", { hasText: "thumbnailer-1" }).textContent()) ?? "";
      assert.match(row, /thumbnail/);

      await page.goto(`${server.url}/ui#/jobs/completed`);
      for (const { id } of jobs) await page.locator(`tr[data-job="${id}"]`).waitFor();
      assert.match(
        (await page.locator(`tr[data-job="${jobs[0].id}"]`).textContent()) ?? "",
        /archived/,
      );
      // Detail of an archived job.
      await page.click(`tr[data-job="${jobs[2].id}"] a`);
      await page.locator("#payload").waitFor();
      assert.match(
        (await page.locator("#job h2").first().textContent()) ?? "",
        /completed.*archived/,
      );
      assert.match((await page.locator("#payload").textContent()) ?? "", /img-3\.png/);
      await page.screenshot({ path: `${await screenshotDir()}dashboard-archive.png` });

      // An archived dead job can be requeued: a copy is pushed as a new job.
      await page.goto(`${server.url}/ui#/jobs/dead`);
      const deadRow = page.locator(`tr[data-job="${broken.id}"]`);
      await deadRow.waitFor();
      assert.match((await deadRow.textContent()) ?? "", /corrupt PNG header/);
      await deadRow.locator('[data-action="requeue"]').click();
      const message = await page.locator("#message", { hasText: /pushed again as job/ })
        .textContent();
      const copyId = /pushed again as job (\S+)/.exec(message ?? "")?.[1];
      assert.ok(copyId !== undefined && copyId !== broken.id, message ?? "");
      const copy = (await broker.request({ op: "get", jobId: copyId })).job;
      assert.deepEqual(copy.payload, { image: "broken.png" });
    } finally {
      await worker.stop();
      await client.close();
    }
  },
);
