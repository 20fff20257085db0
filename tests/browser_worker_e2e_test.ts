/**
 * The browser example in headless Chromium: a CLI broker, the page bundled by
 * `examples/browser/bundle.ts` and served from another origin by
 * `examples/browser/serve.ts`; the page's worker completes jobs pushed with
 * `cli/main.ts push`, fails a job whose payload its zod schema rejects, and its
 * producer refuses an invalid payload before sending anything.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { Job, QueueStats } from "../protocol/operations.ts";
import { bundleBrowserExample } from "../examples/browser/bundle.ts";
import { serveBrowserExample } from "../examples/browser/serve.ts";
import { browserTestOptions, launchChromium, screenshotDir } from "./_browser.ts";
import { repoPath, runDeno, startCliBroker, tempDir } from "./_helpers.ts";

const TOKEN = "browser-e2e-token";

/**
 * Every flag the broker of this test is started with, in one place (e.g. the
 * origin the page is served from, when the broker checks WebSocket origins).
 */
function brokerArgs(pageOrigin: string): string[] {
  return ["--allow-origin", pageOrigin];
}

async function cliPush(url: string, type: string, payload: unknown): Promise<string> {
  const result = await runDeno([
    repoPath("cli/main.ts"),
    "push",
    "--json",
    "--url",
    url,
    "--token",
    TOKEN,
    "--type",
    type,
    "--payload",
    JSON.stringify(payload),
  ], { name: "push" });
  assert.equal(result.code, 0, `push failed:\n${result.child.output()}`);
  return (JSON.parse(result.stdout) as { id: string }).id;
}

async function rest<T>(url: string, path: string): Promise<T> {
  const response = await fetch(new URL(path, url), {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(response.status, 200, `GET ${path}: ${response.status}`);
  return await response.json() as T;
}

/** The text of the page's event line of kind `kind` about job `id`, once it appears. */
async function eventFor(page: Page, kind: string, id: string): Promise<string> {
  const line = page.locator(`#events li.${kind}[data-job="${id}"]`);
  await line.waitFor({ timeout: 20_000 });
  return await line.innerText();
}

Deno.test(
  "browser: a page worker on another origin runs CLI-pushed jobs; zod rejects bad payloads",
  {
    ...browserTestOptions(),
  },
  async () => {
    await using dir = await tempDir("osqueue-browser-");
    const size = await bundleBrowserExample(`${dir.path}/app.js`);
    assert.ok(size.bytes > 0);
    const site = serveBrowserExample({ port: 0, appJs: `${dir.path}/app.js` });
    try {
      await using broker = await startCliBroker({
        data: `${dir.path}/data`,
        token: TOKEN,
        extra: brokerArgs(new URL(site.url).origin),
      });
      assert.notEqual(new URL(site.url).origin, new URL(broker.url).origin);

      await using browser = await launchChromium();
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(error.message));
      const query = new URLSearchParams({ broker: broker.url, token: TOKEN });
      await page.goto(`${site.url}?${query}`);
      await page.locator('body[data-status="running"]').waitFor({ timeout: 20_000 }).catch(
        async (error) => {
          throw new Error(
            `the page worker did not start: ${await page.locator("#status")
              .innerText()}\n${broker.child.output()}`,
            { cause: error },
          );
        },
      );

      // Jobs pushed by the CLI are completed by the page, with the handlers' results.
      const texts = ["hello", "osqueue", "browser", "worker"];
      const textIds = await Promise.all(
        texts.map((text) => cliPush(broker.url, "text:reverse", { text })),
      );
      const sumId = await cliPush(broker.url, "math:sum", { numbers: [1, 2, 3.5] });
      for (const [i, id] of textIds.entries()) {
        assert.match(await eventFor(page, "completed", id), /text:reverse/);
        const job = await rest<Job>(broker.url, `/v1/jobs/${id}`);
        assert.equal(job.state, "completed");
        assert.deepEqual(job.result, { reversed: [...texts[i]].reverse().join("") });
      }
      await eventFor(page, "completed", sumId);
      assert.deepEqual((await rest<Job>(broker.url, `/v1/jobs/${sumId}`)).result, { sum: 6.5 });

      // A payload the schema rejects reaches the page (the broker knows no schemas) and is
      // dead-lettered at once with the schema's message, without running the handler.
      const badId = await cliPush(broker.url, "math:sum", { numbers: [] });
      assert.match(await eventFor(page, "failed", badId), /invalid payload.*numbers/);
      const bad = await rest<Job>(broker.url, `/v1/jobs/${badId}`);
      assert.equal(bad.state, "dead");
      assert.equal(bad.attempts, 1);
      assert.match(
        bad.lastError ?? "",
        /invalid payload for job type "math:sum": numbers: Too small/,
      );

      // The page's producer validates before sending: an invalid payload is refused and nothing
      // is pushed; a valid one goes through and the page's worker completes it.
      const before = await rest<QueueStats>(broker.url, "/v1/stats");
      await page.selectOption("#type", "text:reverse");
      await page.fill("#payload", JSON.stringify({ text: "" }));
      await page.click("#submit");
      const refused = page.locator("#events li.refused").first();
      await refused.waitFor({ timeout: 10_000 });
      assert.match(
        await refused.innerText(),
        /invalid payload for job type "text:reverse": text: Too small/,
      );
      await page.fill("#payload", JSON.stringify({ text: "from the page" }));
      await page.click("#submit");
      const submitted = page.locator("#events li.submitted").first();
      await submitted.waitFor({ timeout: 10_000 });
      const pageJobId = await submitted.getAttribute("data-job");
      assert.ok(pageJobId !== null);
      await eventFor(page, "completed", pageJobId);
      const after = await rest<QueueStats>(broker.url, "/v1/stats");
      assert.equal(after.totals.pushed - before.totals.pushed, 1, "only the valid job was pushed");
      assert.deepEqual((await rest<Job>(broker.url, `/v1/jobs/${pageJobId}`)).result, {
        reversed: "egap eht morf",
      });

      await page.screenshot({ path: `${await screenshotDir()}browser_worker.png`, fullPage: true });
      assert.deepEqual(pageErrors, []);
      assert.deepEqual(await page.locator("#events li.error").allInnerTexts(), []);
    } finally {
      await site.server.shutdown();
    }
  },
);
