import assert from "node:assert/strict";
import { ForbiddenError } from "../errors.ts";
import {
  createAccessPolicy,
  isLoopbackAddress,
  isLoopbackHost,
  normalizeOrigin,
} from "./access.ts";

const req = (headers: Record<string, string>, method = "GET") =>
  new Request("http://127.0.0.1:7420/v1/stats", { method, headers });

Deno.test("normalizeOrigin: scheme://host[:port] only, default ports dropped", () => {
  assert.equal(normalizeOrigin("https://App.Example.com"), "https://app.example.com");
  assert.equal(normalizeOrigin("https://app.example.com:443"), "https://app.example.com");
  assert.equal(normalizeOrigin("http://localhost:5173"), "http://localhost:5173");
  assert.equal(normalizeOrigin("*"), "*");
  for (const bad of ["app.example.com", "ftp://x", "https://x/path", "null", ""]) {
    assert.equal(normalizeOrigin(bad), undefined, bad);
  }
  assert.throws(() => createAccessPolicy({ allowOrigins: ["app.example.com"] }), /not an origin/);
});

Deno.test("loopback names and addresses", () => {
  for (const host of ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"]) {
    assert.ok(isLoopbackHost(host), host);
  }
  for (const host of ["evil.example", "127.0.0.1.evil.example", "10.0.0.1", "::1", "0.0.0.0"]) {
    assert.ok(!isLoopbackHost(host), host);
  }
  assert.ok(isLoopbackAddress("127.0.0.1") && isLoopbackAddress("::1"));
  assert.ok(!isLoopbackAddress("0.0.0.0") && !isLoopbackAddress("::"));
});

Deno.test("access policy: origins, hosts, CORS headers", () => {
  const policy = createAccessPolicy({
    allowOrigins: ["https://app.example.com"],
    allowHosts: ["loopback"],
  });
  const host = "127.0.0.1:7420";
  policy.check(req({ host }));
  policy.check(req({ host, origin: "http://127.0.0.1:7420" }));
  policy.check(req({ host, origin: "https://app.example.com" }));
  assert.throws(() => policy.check(req({ host, origin: "https://evil.example" })), ForbiddenError);
  assert.throws(() => policy.check(req({ host, origin: "null" })), ForbiddenError);
  assert.throws(() => policy.check(req({ host: "evil.example:7420" })), /Host/);
  assert.throws(
    () => policy.check(req({ host: "evil.example:7420", origin: "http://evil.example:7420" })),
    /Host/,
  );
  assert.equal(policy.corsHeaders(req({ host })).has("access-control-allow-origin"), false);
  assert.equal(
    policy.corsHeaders(req({ host, origin: "https://app.example.com" })).get(
      "access-control-allow-origin",
    ),
    "https://app.example.com",
  );
  const any = createAccessPolicy({ allowOrigins: ["*"], allowHosts: ["queue.internal"] });
  any.check(req({ host: "queue.internal:80", origin: "https://whatever.example" }));
  assert.throws(() => any.check(req({ host: "other.internal" })), ForbiddenError);
  assert.throws(() => any.check(req({ host: "localhost" })), ForbiddenError, "loopback not listed");
  const proxied = createAccessPolicy({ allowHosts: ["loopback", "Queue.Example.com"] });
  proxied.check(req({ host: "queue.example.com" }));
  proxied.check(req({ host: "localhost:1" }));
  createAccessPolicy({ allowHosts: ["loopback", "*"] }).check(req({ host: "anything" }));
});
