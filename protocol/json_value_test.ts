import assert from "node:assert/strict";
import { copyJsonValue, MAX_JSON_DEPTH } from "./json_value.ts";
import { operationSchema } from "./operation_schema.ts";

function nested(depth: number, kind: "array" | "object"): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = kind === "array" ? [value] : { a: value };
  return value;
}

Deno.test("copyJsonValue: refuses deep nesting without overflowing the stack, at any depth", () => {
  for (const kind of ["array", "object"] as const) {
    assert.equal(copyJsonValue(nested(MAX_JSON_DEPTH, kind)).ok, true);
    for (const depth of [MAX_JSON_DEPTH + 1, 1_500, 100_000]) {
      const result = copyJsonValue(nested(depth, kind));
      assert.deepEqual(result, {
        ok: false,
        problem: `nested deeper than ${MAX_JSON_DEPTH} levels`,
      });
    }
  }
});

Deno.test("copyJsonValue: copies deeply, keeps order and __proto__ keys, measures bytes", () => {
  const source = JSON.parse('{"b":[1,{"c":"é"}],"a":null,"__proto__":{"x":true}}');
  const result = copyJsonValue(source);
  assert.ok(result.ok);
  assert.equal(JSON.stringify(result.value), JSON.stringify(source));
  assert.equal(result.bytes, new TextEncoder().encode(JSON.stringify(source)).length);
  assert.notEqual(result.value, source);
  (source.b[1] as { c: string }).c = "changed";
  assert.equal(JSON.stringify(result.value).includes("changed"), false, "a deep copy");
  assert.equal(Object.getPrototypeOf(result.value), Object.prototype, "no prototype pollution");
  assert.deepEqual(Object.keys(result.value as object), ["b", "a", "__proto__"]);
});

Deno.test("copyJsonValue: refuses what is not JSON data, and what is too large", () => {
  for (
    const [value, problem] of [
      [undefined, "undefined is not a JSON value"],
      [NaN, "numbers must be finite"],
      [[1, Infinity], "numbers must be finite"],
      [{ f: () => 1 }, "function is not a JSON value"],
      [new Date(0), "objects must be plain JSON objects"],
      [1n, "bigint is not a JSON value"],
    ] as [unknown, string][]
  ) {
    assert.deepEqual(copyJsonValue(value), { ok: false, problem });
  }
  assert.deepEqual(copyJsonValue("x".repeat(100), { maxBytes: 50 }), {
    ok: false,
    problem: "larger than 50 bytes as JSON",
  });
});

Deno.test("operationSchema: a deeply nested payload or result is a validation issue, not a crash", () => {
  const push = operationSchema.safeParse({
    op: "push",
    jobs: [{ type: "t", payload: nested(5_000, "array") }],
  });
  assert.equal(push.success, false);
  assert.match(push.error!.message, /payload nested deeper than 64 levels/);
  const complete = operationSchema.safeParse({
    op: "complete",
    jobId: "1",
    leaseToken: "x",
    result: nested(5_000, "object"),
  });
  assert.equal(complete.success, false);
  assert.match(complete.error!.message, /result nested deeper than 64 levels/);
  const ok = operationSchema.safeParse({ op: "push", jobs: [{ type: "t", payload: { a: [1] } }] });
  assert.equal(ok.success, true);
});
