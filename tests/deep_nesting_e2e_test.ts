/**
 * A few KB of nested brackets used to end the broker process (a recursive JSON
 * schema overflowed the stack). Against a CLI broker: over WebSocket and REST,
 * deeply nested payloads and results get a `validation` error, and the broker
 * keeps serving; in process, the embedded path refuses them too.
 */
import assert from "node:assert/strict";
import { TestClient } from "../server/_test_ws_client.ts";
import { Broker } from "../broker/broker.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { ValidationError } from "../errors.ts";
import { startCliBroker, tempDir } from "./_helpers.ts";

/** `[[[…1…]]]` (or `{"a":{"a":…}}`) nested `depth` deep, as JSON text: no recursion to build it. */
function nestedJson(depth: number, kind: "array" | "object"): string {
  return kind === "array"
    ? "[".repeat(depth) + "1" + "]".repeat(depth)
    : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

Deno.test("deeply nested payloads and results get validation errors and the broker keeps serving", async () => {
  await using dir = await tempDir();
  await using broker = await startCliBroker({ data: dir.path });
  const client = await TestClient.connect(broker.url);
  /** Sends a hand-written request frame and waits for its reply. */
  const request = (id: number, method: string, params: string) => {
    client.ws.send(`{"id":${id},"method":"${method}","params":${params}}`);
    return client.next((f) => f.id === id);
  };

  let id = 1_000; // clear of the ids `client.call` picks
  for (const kind of ["array", "object"] as const) {
    for (const depth of [1_500, 20_000]) {
      const nested = nestedJson(depth, kind);
      const push = await request(
        id++,
        "push",
        `{"jobs":[{"type":"t","payload":${nested}}]}`,
      );
      assert.equal(push.error?.code, "validation", `push ${kind} ${depth}`);
      assert.match(push.error!.message, /nested deeper than 64 levels/);
      const complete = await request(
        id++,
        "complete",
        `{"jobId":"1","leaseToken":"x","result":${nested}}`,
      );
      assert.equal(complete.error?.code, "validation", `complete ${kind} ${depth}`);
      const response = await fetch(new URL("/v1/jobs", broker.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"type":"t","payload":${nested}}`,
      });
      assert.equal(response.status, 400, `REST ${kind} ${depth}`);
      assert.equal((await response.json()).error.code, "validation");
    }
  }

  // Still alive and serving: a shallow push goes through on the same connection and over REST.
  const ok = await client.call("push", { jobs: [{ type: "t", payload: { a: [[[1]]] } }] });
  assert.equal(ok.error, undefined);
  const stats = await client.call("stats");
  assert.equal((stats.result as { totals: { pushed: number } }).totals.pushed, 1);
  const rest = await fetch(new URL("/v1/stats", broker.url));
  assert.equal(rest.status, 200);
  await rest.body?.cancel();
  await client.close();
  broker.child.kill("SIGTERM");
  assert.equal((await broker.child.exit()).code, 0);
  assert.ok(!broker.child.stderr.lines.some((line) => /Uncaught|RangeError/.test(line)));
});

Deno.test("embedded: Broker.request refuses a deeply nested payload with a ValidationError", async () => {
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  const payload = JSON.parse(nestedJson(10_000, "array"));
  await assert.rejects(
    broker.request({ op: "push", jobs: [{ type: "t", payload }] }),
    (error) => error instanceof ValidationError && /nested deeper than 64/.test(error.message),
  );
  const { jobs } = await broker.request({ op: "push", jobs: [{ type: "t", payload: [1] }] });
  assert.equal(jobs.length, 1);
  await broker.stop();
});
