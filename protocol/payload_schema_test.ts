import assert from "node:assert/strict";
import { z } from "zod";
import * as zm from "zod/mini";
import {
  formatIssuePath,
  parsePayload,
  type PayloadSchema,
  type SchemaInput,
  type SchemaOutput,
} from "./payload_schema.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
type Assert<T extends true> = T;

Deno.test("parsePayload: a zod schema validates, transforms and reports paths", () => {
  const schema = z.object({ to: z.email(), tags: z.array(z.string()), n: z.number().default(1) });
  const ok = parsePayload(schema, { to: "a@example.com", tags: ["x"] });
  assert.deepEqual(ok, { ok: true, value: { to: "a@example.com", tags: ["x"], n: 1 } });
  const bad = parsePayload(schema, { to: "nope", tags: ["x", 3] });
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  assert.deepEqual(bad.issues.map((issue) => issue.path), ["to", "tags[1]"]);
  assert.match(bad.issues[0].message, /email/i);
  type _In = Assert<Equal<SchemaInput<typeof schema>["n"], number | undefined>>;
  type _Out = Assert<Equal<SchemaOutput<typeof schema>["n"], number>>;
});

Deno.test("parsePayload: zod/mini schemas are Standard Schemas too", () => {
  const schema = zm.object({ month: zm.string().check(zm.regex(/^\d{4}-\d{2}$/)) });
  assert.deepEqual(parsePayload(schema, { month: "2026-11" }), {
    ok: true,
    value: { month: "2026-11" },
  });
  const bad = parsePayload(schema, { month: "November" });
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.equal(bad.issues[0].path, "month");
});

Deno.test("parsePayload: an asynchronous schema is refused, not awaited", () => {
  const schema = z.object({ a: z.string() }).refine(async () => await Promise.resolve(true));
  const result = parsePayload(schema, { a: "x" });
  assert.deepEqual(result, {
    ok: false,
    issues: [{ path: "(root)", message: "asynchronous schemas are not supported" }],
  });
});

Deno.test("parsePayload: a hand-written Standard Schema with object path segments", () => {
  const positive: PayloadSchema<number, number> = {
    "~standard": {
      version: 1,
      vendor: "test",
      validate: (value) =>
        typeof value === "number" && value > 0
          ? { value }
          : { issues: [{ message: "must be positive", path: [{ key: "items" }, { key: 2 }] }] },
    },
  };
  assert.deepEqual(parsePayload(positive, 3), { ok: true, value: 3 });
  assert.deepEqual(parsePayload(positive, -1), {
    ok: false,
    issues: [{ path: "items[2]", message: "must be positive" }],
  });
});

Deno.test("formatIssuePath: root, keys, indexes and symbols", () => {
  assert.equal(formatIssuePath(undefined), "(root)");
  assert.equal(formatIssuePath([]), "(root)");
  assert.equal(formatIssuePath(["a", 0, "b"]), "a[0].b");
  assert.equal(formatIssuePath([Symbol("s")]), "Symbol(s)");
});
