import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import type { ObjectStore } from "../storage/types.ts";
import { brokerOptionsFromEnv, createDeployHandler, storeFromEnv } from "./handler.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("deploy: the store comes from OSQUEUE_STORAGE; without it, a clear error", () => {
  assert.throws(() => storeFromEnv(envOf({})), InvalidError);
  assert.throws(() => storeFromEnv(envOf({ OSQUEUE_STORAGE: "http://nope" })), InvalidError);
  const store = storeFromEnv(envOf({
    OSQUEUE_STORAGE: "s3://bucket/queues/main",
    OSQUEUE_S3_ENDPOINT: "http://127.0.0.1:1",
    AWS_ACCESS_KEY_ID: "k",
    AWS_SECRET_ACCESS_KEY: "s",
  }));
  store.close();
});

Deno.test("deploy: broker options from the environment, bad numbers named", () => {
  assert.deepEqual(
    brokerOptionsFromEnv(envOf({
      OSQUEUE_POLL_INTERVAL_MS: "250",
      OSQUEUE_MIN_COMMIT_INTERVAL_MS: "20",
      OSQUEUE_INSTANCE_ID: "i-1",
    })),
    { pollIntervalMs: 250, minCommitIntervalMs: 20, identity: { id: "i-1" } },
  );
  assert.throws(
    () => brokerOptionsFromEnv(envOf({ OSQUEUE_POLL_INTERVAL_MS: "soon" })),
    /OSQUEUE_POLL_INTERVAL_MS/,
  );
});

Deno.test("deploy: two handlers on one store serve REST pushes and health, both as 'leader'", async () => {
  const store = new MemoryStore();
  const a = createDeployHandler({ store, env: envOf({ OSQUEUE_TOKEN: "t" }) });
  const b = createDeployHandler({ store, env: envOf({ OSQUEUE_TOKEN: "t" }) });
  try {
    const headers = { authorization: "Bearer t", "content-type": "application/json" };
    const body = JSON.stringify({ type: "x", payload: 1 });
    const first = await a.fetch(
      new Request("http://q/v1/jobs", { method: "POST", headers, body }),
    );
    assert.equal(first.status, 201);
    const second = await b.fetch(
      new Request("http://q/v1/jobs", { method: "POST", headers, body }),
    );
    assert.equal(second.status, 201);
    const ids = [(await first.json()).id, (await second.json()).id];
    assert.notEqual(ids[0], ids[1]);
    for (const handler of [a, b]) {
      const health = await handler.fetch(new Request("http://q/healthz"));
      assert.equal(health.status, 200);
      assert.equal((await health.json()).leader, true);
    }
    const unauthorized = await a.fetch(new Request("http://q/v1/jobs", { method: "POST", body }));
    assert.equal(unauthorized.status, 401);
    await unauthorized.body?.cancel();
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("deploy: a failed start is answered with an error and tried again on the next request", async () => {
  let failing = true;
  const inner = new MemoryStore();
  const store: ObjectStore = {
    get: (key) => failing ? Promise.reject(new Error("store down")) : inner.get(key),
    put: (key, body, options) => inner.put(key, body, options),
    delete: (key) => inner.delete(key),
    list: (prefix, options) => inner.list(prefix, options),
    description: "failing-then-memory",
  };
  const handler = createDeployHandler({ store, env: envOf({}) });
  try {
    const down = await handler.fetch(new Request("http://q/healthz"));
    assert.ok(down.status >= 500, `status ${down.status}`);
    await down.body?.cancel();
    failing = false;
    const up = await handler.fetch(new Request("http://q/healthz"));
    assert.equal(up.status, 200);
    await up.body?.cancel();
  } finally {
    await handler.close();
  }
});
