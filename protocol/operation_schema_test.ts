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

Deno.test("the operation types load no zod: clients importing operations.ts stay dependency-free", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("./operations.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: { specifier: string }[];
  };
  const files = graph.modules.map((module) => module.specifier);
  assert.ok(files.some((file) => file.endsWith("/protocol/job.ts")), "the graph was read");
  assert.deepEqual(files.filter((file) => !file.startsWith("file://")), []);
});
