import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { run } from "./_test_run.ts";

Deno.test("osqueue schedules: set (cron and every), ls, rm through the REST API", async () => {
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  const server = serveBroker({ backend: broker, port: 0, token: "cli-token" });
  const tokenFile = await Deno.makeTempFile();
  await Deno.writeTextFile(tokenFile, "cli-token\n");
  const flags = ["--url", server.url, "--token-file", tokenFile];
  try {
    let r = await run([
      "schedules",
      "set",
      "nightly",
      "--cron",
      "0 2 * * *",
      "--timezone",
      "Europe/Paris",
      "--type",
      "report",
      "--payload",
      '{"scope":"daily"}',
      "--missed",
      "runOnce",
      ...flags,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /schedule nightly set; next run 20\d\d-/);
    r = await run(["schedules", "set", "ping", "--every", "1h", "--type", "ping", ...flags]);
    assert.equal(r.code, 0, r.err);
    r = await run(["schedules", "ls", "--json", ...flags]);
    const { schedules } = JSON.parse(r.out);
    assert.deepEqual(schedules.map((s: { name: string }) => s.name), ["nightly", "ping"]);
    assert.deepEqual(schedules[0].job, { type: "report", payload: { scope: "daily" } });
    assert.equal(schedules[0].timezone, "Europe/Paris");
    assert.equal(schedules[0].missed, "runOnce");
    assert.equal(schedules[1].everyMs, 3_600_000);
    r = await run(["schedules", "ls", ...flags]);
    assert.match(r.out, /nightly +0 2 \* \* \* \(Europe\/Paris\) +report +runOnce/);
    r = await run(["schedules", "rm", "ping", ...flags]);
    assert.equal(r.out, "schedule ping removed");
    r = await run(["schedules", "rm", "ping", ...flags]);
    assert.equal(r.out, "no schedule ping");
    r = await run(["schedules", "set", "bad", "--cron", "nope", "--type", "x", ...flags]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /bad cron/);
    r = await run(["schedules", "set", "bad", "--type", "x", ...flags]);
    assert.equal(r.code, 2);
    assert.equal((await broker.request({ op: "schedules" })).schedules.length, 1);
  } finally {
    await Deno.remove(tokenFile);
    await server.shutdown();
    await broker.stop();
  }
});
