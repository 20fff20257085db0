import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_KEEPALIVE_TIMEOUT_MS,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MIN_DELAY_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  defaultTimers,
} from "./client_options.ts";
import { resolveClientOptions } from "./client_setup.ts";

Deno.test("client setup: defaults fill every option; unset token, clientId and onError stay absent", () => {
  const resolved = resolveClientOptions({ url: "http://a:1" });
  assert.equal(resolved.urls.current, "http://a:1");
  assert.equal(resolved.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS);
  assert.equal(resolved.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
  assert.equal(resolved.keepaliveMs, DEFAULT_KEEPALIVE_MS);
  assert.equal(resolved.keepaliveTimeoutMs, DEFAULT_KEEPALIVE_TIMEOUT_MS);
  assert.equal(resolved.minDelayMs, DEFAULT_MIN_DELAY_MS);
  assert.equal(resolved.maxDelayMs, DEFAULT_MAX_DELAY_MS);
  assert.equal(resolved.maxRedirects, 3);
  assert.equal(resolved.timers, defaultTimers);
  assert.equal(resolved.WebSocket, globalThis.WebSocket);
  for (const key of ["token", "clientId", "onError"]) assert.ok(!(key in resolved), key);
});

Deno.test("client setup: url comes before urls; connect timeout at most the request timeout; max delay at least min", () => {
  const onError = () => {};
  const resolved = resolveClientOptions({
    url: "http://a:1",
    urls: ["http://b:1", "http://a:1"],
    token: "t",
    clientId: "c",
    requestTimeoutMs: 1_000,
    connectTimeoutMs: 5_000,
    reconnect: { minDelayMs: 700, maxDelayMs: 10 },
    onError,
  });
  assert.equal(resolved.urls.count, 2);
  assert.equal(resolved.urls.current, "http://a:1");
  assert.equal(resolved.connectTimeoutMs, 1_000);
  assert.equal(resolved.minDelayMs, 700);
  assert.equal(resolved.maxDelayMs, 700);
  assert.equal(resolved.token, "t");
  assert.equal(resolved.clientId, "c");
  assert.equal(resolved.onError, onError);
});

Deno.test("client setup: no URL, a bad URL, or a bad timeout is an InvalidError naming it", () => {
  assert.throws(() => resolveClientOptions({}), InvalidError);
  assert.throws(() => resolveClientOptions({ url: "ftp://a" }), InvalidError);
  for (const name of ["requestTimeoutMs", "keepaliveMs", "keepaliveTimeoutMs"] as const) {
    for (const value of [-1, NaN, Infinity]) {
      assert.throws(
        () => resolveClientOptions({ url: "http://a:1", [name]: value }),
        (error: unknown) => error instanceof InvalidError && error.message.startsWith(name),
        `${name} = ${value}`,
      );
    }
  }
  assert.throws(
    () => resolveClientOptions({ url: "http://a:1", connectTimeoutMs: -5 }),
    (error: unknown) => error instanceof InvalidError && /^connectTimeoutMs/.test(error.message),
  );
});
