import assert from "node:assert/strict";
import { ConflictError, InternalError, ValidationError } from "../errors.ts";
import { parseOperation } from "../protocol/operation_schema.ts";
import type { Operation } from "../protocol/operations.ts";
import { tickError, trustedOperation } from "./intake.ts";

Deno.test("intake: a validated operation is trusted as it is (no second parse)", () => {
  // Invalid on purpose: only the fast path lets it through unchanged.
  const operation = { op: "push", jobs: [] } as unknown as Operation;
  assert.equal(trustedOperation(operation, { validated: true }), operation);
});

Deno.test("intake: an unvalidated operation is parsed into a fresh copy", () => {
  const payload = { n: 1 };
  const operation: Operation = { op: "push", jobs: [{ type: "t", payload }] };
  const trusted = trustedOperation(operation, {});
  assert.deepEqual(trusted, operation);
  assert.notEqual(trusted, operation);
  if (trusted.op === "push") assert.notEqual(trusted.jobs[0].payload, payload);
});

Deno.test("intake: an invalid operation fails with the edge's own ValidationError message", () => {
  for (
    const bad of [
      { op: "push", jobs: [] },
      { op: "claim", workerId: "", max: 0 },
      { op: "explode" },
    ]
  ) {
    const operation = bad as unknown as Operation;
    let edgeMessage = "";
    try {
      parseOperation(bad);
    } catch (error) {
      edgeMessage = (error as Error).message;
    }
    assert.notEqual(edgeMessage, "");
    assert.throws(
      () => trustedOperation(operation, {}),
      (error: unknown) => error instanceof ValidationError && error.message === edgeMessage,
    );
  }
});

Deno.test("intake: a failed tick answers with its own typed error, or an InternalError", () => {
  const conflict = new ConflictError();
  assert.equal(tickError(conflict), conflict);
  const cause = new RangeError("bad");
  const wrapped = tickError(cause);
  assert.ok(wrapped instanceof InternalError);
  assert.equal(wrapped.code, "internal");
  assert.equal(wrapped.cause, cause);
  assert.match(wrapped.message, /^broker tick failed: RangeError: bad$/);
});
