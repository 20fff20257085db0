import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { run } from "./_test_run.ts";

Deno.test("osqueue types: pause, resume, limit and ls through the REST API", async () => {
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  const server = serveBroker({ backend: broker, port: 0, token: "cli-token" });
  const tokenFile = await Deno.makeTempFile();
  await Deno.writeTextFile(tokenFile, "cli-token\n");
  const flags = ["--url", server.url, "--token-file", tokenFile];
  try {
    let r = await run(["types", "pause", "email", "sms", ...flags]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "paused: email, sms");
    r = await run(["types", "resume", "sms", ...flags]);
    assert.equal(r.out, "paused: email");
    r = await run([
      "types",
      "limit",
      "api",
      "--max-per-window",
      "10",
      "--window",
      "1m",
      "--max-active",
      "3",
      ...flags,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "api: at most 10 started per 60000ms, at most 3 active");
    r = await run(["types", "ls", "--json", ...flags]);
    const shown = JSON.parse(r.out);
    assert.deepEqual(shown.paused, ["email"]);
    assert.equal(shown.typeLimits.api.maxActive, 3);
    assert.equal(shown.typeLimits.api.windowMs, 60_000);
    r = await run(["types", "ls", ...flags]);
    assert.match(r.out, /paused: email/);
    assert.match(r.out, /api .*at most 10 started per 60000ms/);
    assert.match(r.out, /0\/3/);
    // The stored settings really are in the broker's state.
    const stats = await broker.request({ op: "stats" });
    assert.deepEqual(stats.paused, ["email"]);
    r = await run(["types", "limit", "api", ...flags]);
    assert.equal(r.out, "api: no limits");
    r = await run(["types", "limit", "api", "--window", "1s", ...flags]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--window needs --max-per-window/);
    r = await run(["types", "limit", "api", "--max-active", "0", ...flags]);
    assert.notEqual(r.code, 0);
  } finally {
    await Deno.remove(tokenFile);
    await server.shutdown();
    await broker.stop();
  }
});
