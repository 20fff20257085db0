import assert from "node:assert/strict";
import {
  authorize,
  bearerToken,
  createAuthenticator,
  createTokenChecker,
  type Grant,
  parseTokensFile,
} from "./auth.ts";
import { httpStatusForCode } from "./rest.ts";
import { ForbiddenError } from "../errors.ts";

Deno.test("createTokenChecker: accepts only the exact token, whatever the length", () => {
  const check = createTokenChecker("s3cret");
  assert.equal(check("s3cret"), true);
  for (const wrong of ["", "s3cre", "s3cret ", "S3CRET", "s3crex", "x".repeat(10_000)]) {
    assert.equal(check(wrong), false, JSON.stringify(wrong.slice(0, 10)));
  }
});

Deno.test("bearerToken: parses the Bearer scheme only", () => {
  const h = (value?: string) => new Headers(value === undefined ? {} : { authorization: value });
  assert.equal(bearerToken(h("Bearer abc")), "abc");
  assert.equal(bearerToken(h("bearer  abc ")), "abc");
  assert.equal(bearerToken(h("Basic abc")), undefined);
  assert.equal(bearerToken(h("Bearer")), undefined);
  assert.equal(bearerToken(h()), undefined);
});

Deno.test("httpStatusForCode: maps codes to statuses", () => {
  const expected: Record<string, number> = {
    validation: 400,
    bad_request: 400,
    unauthorized: 401,
    forbidden: 403,
    unsupported_media_type: 415,
    job_not_found: 404,
    not_found: 404,
    lease_lost: 409,
    too_large: 413,
    overloaded: 429,
    not_leader: 503,
    shutting_down: 503,
    unavailable: 503,
    internal: 500,
    something_new: 500,
  };
  for (const [code, status] of Object.entries(expected)) {
    assert.equal(httpStatusForCode(code), status, code);
  }
});

Deno.test("createAuthenticator: finds each token's grant, nothing for others", () => {
  const authenticate = createAuthenticator([
    { token: "a-token", role: "admin" },
    { token: "p-token", role: "producer", name: "web" },
    { token: "w-token", role: "worker", types: ["email"] },
  ]);
  assert.deepEqual(authenticate("a-token"), { role: "admin" });
  assert.deepEqual(authenticate("p-token"), { role: "producer", name: "web" });
  assert.deepEqual(authenticate("w-token"), { role: "worker", types: ["email"] });
  for (const wrong of ["", "a-toke", "p-token ", "W-TOKEN"]) {
    assert.equal(authenticate(wrong), undefined);
  }
  assert.throws(
    () => createAuthenticator([{ token: "x", role: "producer", types: ["a"] }]),
    /only worker/,
  );
  assert.throws(() => createAuthenticator([{ token: "x y", role: "admin" }]), /whitespace/);
});

Deno.test("authorize: roles and worker types", () => {
  const producer: Grant = { role: "producer" };
  const worker: Grant = { role: "worker" };
  const mailer: Grant = { role: "worker", types: ["email", "sms"] };
  for (const method of ["push", "get", "stats"]) assert.equal(authorize(producer, method, 1), 1);
  for (
    const method of [
      "claim",
      "heartbeat",
      "complete",
      "fail",
      "release",
      "subscribe",
      "credit",
      "unsubscribe",
      "cancel",
    ]
  ) {
    assert.throws(() => authorize(producer, method, {}), ForbiddenError, method);
  }
  for (const method of ["push", "get", "stats", "cancel", "someFutureAdminOp"]) {
    assert.throws(() => authorize(worker, method, {}), ForbiddenError, method);
    assert.equal(authorize({ role: "admin" }, method, 7), 7);
  }
  assert.deepEqual(authorize(worker, "claim", { workerId: "w" }), { workerId: "w" });
  assert.deepEqual(authorize(mailer, "claim", { workerId: "w" }), {
    workerId: "w",
    types: ["email", "sms"],
  });
  assert.deepEqual(authorize(mailer, "subscribe", { types: [] }), { types: ["email", "sms"] });
  assert.deepEqual(authorize(mailer, "claim", { types: ["sms"] }), { types: ["sms"] });
  assert.throws(() => authorize(mailer, "claim", { types: ["sms", "push"] }), /not \["push"\]/);
  assert.throws(() => authorize(mailer, "subscribe", { types: [1] }), ForbiddenError);
  assert.equal(authorize(mailer, "claim", "not an object"), "not an object");
});

Deno.test("parseTokensFile: accepts the documented shapes, refuses mistakes without echoing tokens", () => {
  const grants = parseTokensFile(JSON.stringify({
    tokens: [
      { token: "t1", role: "admin", name: "ops" },
      { token: "t2", role: "worker", types: ["a"] },
    ],
  }));
  assert.deepEqual(grants, [
    { token: "t1", role: "admin", name: "ops" },
    { token: "t2", role: "worker", types: ["a"] },
  ]);
  assert.deepEqual(parseTokensFile('[{"token":"t","role":"producer"}]'), [
    { token: "t", role: "producer" },
  ]);
  const bad: [string, RegExp][] = [
    ["nope", /not valid JSON/],
    ["{}", /expected \{"tokens"/],
    ['{"tokens":[1]}', /tokens\[0\] is not an object/],
    ['{"tokens":[{"token":"secret-x","role":"root"}]}', /unknown token role "root"/],
    ['{"tokens":[{"token":"","role":"admin"}]}', /1 to 4096/],
    ['{"tokens":[{"token":"secret-x","role":"worker","types":[]}]}', /non-empty/],
    ['[{"token":"secret-x","role":"admin"},{"token":"secret-x","role":"producer"}]', /repeats/],
  ];
  for (const [text, pattern] of bad) {
    assert.throws(() => parseTokensFile(text), (error: Error) => {
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes("secret-x"));
      return true;
    });
  }
});
