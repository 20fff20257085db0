import assert from "node:assert/strict";
import { ValidationError } from "../errors.ts";
import { formatIssues, operationSchema, parseOperation } from "./operation_schema.ts";

Deno.test("parseOperation: a fresh, trusted copy of a valid operation", () => {
  const payload = { to: "a@b.c", tags: ["x"] };
  const input = { op: "push", jobs: [{ type: "email", payload }] };
  const operation = parseOperation(input);
  assert.deepEqual(operation, input);
  assert.equal(operation.op, "push");
  if (operation.op === "push") assert.notEqual(operation.jobs[0].payload, payload, "a copy");
});

Deno.test("parseOperation: a ValidationError naming each issue by its path", () => {
  assert.throws(
    () => parseOperation({ op: "claim", workerId: "", max: 0 }),
    (error: unknown) =>
      error instanceof ValidationError && /^workerId: .+; max: /.test(error.message),
  );
  assert.throws(() => parseOperation({ op: "nope" }), ValidationError);
  assert.throws(() => parseOperation(null), ValidationError);
});

Deno.test("formatIssues: drops the first path segments of a wrapped value", () => {
  const parsed = operationSchema.safeParse({ op: "push", jobs: [{ type: "", payload: null }] });
  assert.equal(parsed.success, false);
  if (parsed.success) return;
  assert.match(formatIssues(parsed.error), /^jobs\.0\.type: /);
  assert.match(formatIssues(parsed.error, 2), /^type: /);
});
