import assert from "node:assert/strict";
import {
  type ErrorCode,
  errorFromWire,
  errorToWire,
  InternalError,
  isErrorCode,
  NotLeaderError,
  OsqueueError,
  TooLargeError,
  toOsqueueError,
  ValidationError,
} from "./errors.ts";

/** Every code: `satisfies` fails to compile when a code is added to ErrorCode and not here. */
const CODES = {
  conflict: true,
  not_found: true,
  unavailable: true,
  invalid: true,
  ambiguous: true,
  lease_lost: true,
  job_not_found: true,
  not_leader: true,
  overloaded: true,
  shutting_down: true,
  validation: true,
  job_failed: true,
  unauthorized: true,
  forbidden: true,
  unsupported_media_type: true,
  too_large: true,
  bad_request: true,
  method_not_found: true,
  method_not_allowed: true,
  timeout: true,
  disconnected: true,
  internal: true,
} satisfies Record<ErrorCode, true>;

Deno.test("errors: every code crosses the wire as its own class, with its code, message and data", () => {
  const names = new Set<string>();
  for (const code of Object.keys(CODES) as ErrorCode[]) {
    assert.ok(isErrorCode(code), code);
    const error = errorFromWire({ code, message: `m ${code}`, data: { n: 1 } });
    assert.ok(error instanceof OsqueueError, code);
    assert.notEqual(error.constructor, OsqueueError, `${code} has no class of its own`);
    assert.equal(error.code, code);
    assert.equal(error.message, `m ${code}`);
    assert.deepEqual(error.data, { n: 1 });
    assert.deepEqual(errorToWire(error), { code, message: `m ${code}`, data: { n: 1 } });
    names.add(error.name);
  }
  assert.equal(names.size, Object.keys(CODES).length, "each class has its own name");
});

Deno.test("errors: typed classes keep their behaviour (instanceof, retryable, detail)", () => {
  const validation = errorFromWire({ code: "validation", message: "bad" });
  assert.ok(validation instanceof ValidationError);
  assert.equal(validation.retryable, false);
  const tooLarge = errorFromWire({ code: "too_large", message: "big" });
  assert.ok(tooLarge instanceof TooLargeError);
  assert.equal(errorFromWire({ code: "disconnected", message: "gone" }).retryable, true);
  const notLeader = errorFromWire({
    code: "not_leader",
    message: "no",
    data: { leaderUrl: "http://a:1" },
  });
  assert.ok(notLeader instanceof NotLeaderError);
  assert.equal(notLeader.leaderUrl, "http://a:1");
});

Deno.test("errors: a code this version does not know becomes internal, naming the peer's code", () => {
  assert.equal(isErrorCode("some_future_code"), false);
  assert.equal(isErrorCode("toString"), false);
  const error = errorFromWire({ code: "some_future_code", message: "new", data: { n: 1 } });
  assert.ok(error instanceof InternalError);
  assert.equal(error.code, "internal");
  assert.equal(error.retryable, false);
  assert.match(error.message, /"some_future_code"/);
  assert.match(error.message, /new$/);
  assert.deepEqual(error.data, { n: 1, wireCode: "some_future_code" });
  // Its wire form carries a known code, so it crosses the next hop unchanged.
  const again = errorFromWire(errorToWire(error));
  assert.ok(again instanceof InternalError);
  assert.equal(again.message, error.message);
  assert.deepEqual(again.data, error.data);
  assert.deepEqual(errorToWire(new Error("boom")), { code: "internal", message: "boom" });
});

Deno.test("errors: toOsqueueError keeps typed errors and wraps anything else as InternalError", () => {
  const typed = new ValidationError("bad");
  assert.equal(toOsqueueError(typed), typed);
  const cause = new TypeError("oops");
  const wrapped = toOsqueueError(cause);
  assert.ok(wrapped instanceof InternalError);
  assert.equal(wrapped.message, "oops");
  assert.equal(wrapped.cause, cause);
  const fromString = toOsqueueError("plain");
  assert.ok(fromString instanceof InternalError);
  assert.equal(fromString.message, "plain");
});
