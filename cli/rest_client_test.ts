import assert from "node:assert/strict";
import {
  InternalError,
  NotLeaderError,
  OverloadedError,
  UnavailableError,
} from "@osqueue/osqueue/worker";
import { restCall, restError } from "./rest_client.ts";

Deno.test("cli rest: a broker error reply becomes the typed error of its code, with its data", () => {
  const error = restError(
    { error: { code: "not_leader", message: "ask b", data: { leaderUrl: "http://b:1" } } },
    new Response(null, { status: 503 }),
    "POST /v1/jobs",
  );
  assert.ok(error instanceof NotLeaderError);
  assert.equal(error.leaderUrl, "http://b:1");
  assert.equal(error.message, "POST /v1/jobs: HTTP 503: ask b");
  const overloaded = restError(
    { error: { code: "overloaded", message: "full" } },
    new Response(null, { status: 429 }),
    "POST /v1/jobs",
  );
  assert.ok(overloaded instanceof OverloadedError);
  assert.equal(overloaded.retryable, true);
});

Deno.test("cli rest: an unknown code or a body without an error object gives internal", () => {
  const unknown = restError(
    { error: { code: "brand_new", message: "hm" } },
    new Response(null, { status: 500 }),
    "GET /v1/stats",
  );
  assert.ok(unknown instanceof InternalError);
  assert.equal(unknown.code, "internal");
  assert.equal(unknown.data?.wireCode, "brand_new");
  assert.match(unknown.message, /"brand_new".*GET \/v1\/stats: HTTP 500: hm/);
  const bare = restError(
    {},
    new Response(null, { status: 502, statusText: "Bad Gateway" }),
    "GET /",
  );
  assert.ok(bare instanceof InternalError);
  assert.equal(bare.message, "GET /: HTTP 502: Bad Gateway");
  assert.equal(bare.data, undefined);
});

Deno.test("cli rest: a broker that cannot be reached is an UnavailableError naming the URL", async () => {
  // A port that was just free: bind, learn it, close.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    restCall({ url: `http://127.0.0.1:${port}` }, "GET", "/v1/stats"),
    (error: unknown) =>
      error instanceof UnavailableError &&
      error.message.includes(`http://127.0.0.1:${port}`) && error.retryable,
  );
});

Deno.test("cli rest: an error reply from a real server is thrown typed", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ error: { code: "overloaded", message: "too many" } }, { status: 429 }),
  );
  try {
    await assert.rejects(
      restCall({ url: `http://127.0.0.1:${server.addr.port}` }, "POST", "/v1/jobs", { a: 1 }),
      (error: unknown) =>
        error instanceof OverloadedError &&
        error.message === "POST /v1/jobs: HTTP 429: too many",
    );
  } finally {
    await server.shutdown();
  }
});
