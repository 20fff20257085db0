import assert from "node:assert/strict";
import { bearerToken, createTokenChecker } from "./auth.ts";
import { closeReason } from "./rpc_session.ts";
import { httpStatusForCode } from "./rest.ts";
import { NotLeaderError, ShuttingDownError } from "../errors.ts";

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

Deno.test("closeReason: carries the leader url when it fits", () => {
  assert.equal(
    closeReason(new NotLeaderError("x", { data: { leaderUrl: "http://a:1" } })),
    "not_leader http://a:1",
  );
  assert.equal(
    closeReason(new NotLeaderError("x", { data: { leaderUrl: "http://" + "a".repeat(200) } })),
    "not_leader",
  );
  assert.equal(closeReason(new ShuttingDownError()), "shutting_down");
});
