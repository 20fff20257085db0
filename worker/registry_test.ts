import assert from "node:assert/strict";
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import type { OperationResults, PushJob } from "../protocol/operations.ts";
import { createProducer, defineJobs, type JobInput, type JobPayload } from "./registry.ts";
import type { HandlersFor, JobContext } from "./worker_options.ts";

/** Compile-time equality: `Assert<Equal<A, B>>` only type-checks when A and B are the same. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;
type Assert<T extends true> = T;

const jobs = defineJobs({
  "email:send": z.object({ to: z.email(), subject: z.string() }),
  "report:generate": z.object({
    month: z.string().regex(/^\d{4}-\d{2}$/),
    copies: z.number().int().default(1),
  }),
});
type Schemas = typeof jobs.schemas;

// Types infer from the schemas: input for producers, output for handlers.
export type _Types = [
  Assert<Equal<typeof jobs.types[number], "email:send" | "report:generate">>,
  Assert<Equal<JobInput<Schemas, "email:send">, { to: string; subject: string }>>,
  Assert<Equal<JobInput<Schemas, "report:generate">, { month: string; copies?: number }>>,
  Assert<Equal<JobPayload<Schemas, "report:generate">, { month: string; copies: number }>>,
  Assert<
    Equal<
      Parameters<NonNullable<HandlersFor<Schemas>["report:generate"]>>[0],
      JobContext<{ month: string; copies: number }, "report:generate">
    >
  >,
];

class FakePushClient {
  pushed: PushJob[][] = [];
  push(batch: PushJob[]): Promise<OperationResults["push"]> {
    this.pushed.push(batch);
    return Promise.resolve({
      jobs: batch.map((_, i) => ({ id: `id-${this.pushed.length}-${i}`, duplicate: false })),
    });
  }
}

Deno.test("parse returns the schema's output (defaults applied)", () => {
  const payload = jobs.parse("report:generate", { month: "2025-01" });
  assert.deepEqual(payload, { month: "2025-01", copies: 1 });
  assert.ok(jobs.has("email:send"));
  assert.ok(!jobs.has("nope"));
  assert.deepEqual(jobs.types, ["email:send", "report:generate"]);
});

Deno.test("parse errors name the job type and every bad field", () => {
  assert.throws(
    () => jobs.parse("email:send", { to: "not-an-email" }),
    (error) => {
      assert.ok(error instanceof ValidationError);
      assert.equal(error.code, "validation");
      assert.match(error.message, /^invalid payload for job type "email:send": /);
      assert.match(error.message, /to: [^;]*email/i);
      assert.match(error.message, /subject: /);
      const issues = error.data?.issues as { path: string }[];
      assert.deepEqual(issues.map((i) => i.path).sort(), ["subject", "to"]);
      assert.equal(error.data?.type, "email:send");
      return true;
    },
  );
  assert.throws(() => jobs.parse("email:send", "just a string"), /\(root\): /);
  const nested = defineJobs({ n: z.object({ items: z.array(z.object({ sku: z.string() })) }) });
  assert.throws(() => nested.parse("n", { items: [{ sku: 1 }] }), /items\[0\]\.sku: /);
});

Deno.test("parse rejects unknown job types, naming the known ones", () => {
  assert.throws(
    // @ts-expect-error: not a registered type
    () => jobs.parse("email:sned", {}),
    (error) => {
      assert.ok(error instanceof ValidationError);
      assert.match(error.message, /unknown job type "email:sned"/);
      assert.match(error.message, /"email:send", "report:generate"/);
      return true;
    },
  );
});

Deno.test("the producer validates at submit and pushes the input payload with options", async () => {
  const client = new FakePushClient();
  const producer = createProducer(client, jobs);
  const result = await producer.submit("report:generate", { month: "2025-02" }, {
    priority: 5,
    idempotencyKey: "k",
  });
  assert.deepEqual(result, { id: "id-1-0", duplicate: false });
  assert.deepEqual(client.pushed, [[{
    priority: 5,
    idempotencyKey: "k",
    type: "report:generate",
    payload: { month: "2025-02" },
  }]]);

  await assert.rejects(
    producer.submit("email:send", { to: "x", subject: "s" }),
    /invalid payload for job type "email:send": to: /,
  );
  assert.equal(client.pushed.length, 1, "nothing pushed for an invalid payload");

  // @ts-expect-error: subject is missing
  const missing = producer.submit("email:send", { to: "a@b.co" });
  await assert.rejects(missing, ValidationError);
  // @ts-expect-error: unknown job type
  await assert.rejects(producer.submit("nope", {}), ValidationError);
});

Deno.test("submitMany validates every job before pushing one batch", async () => {
  const client = new FakePushClient();
  const producer = createProducer(client, jobs);
  await assert.rejects(
    producer.submitMany([
      { type: "email:send", payload: { to: "a@b.co", subject: "ok" } },
      { type: "report:generate", payload: { month: "bad" } },
    ]),
    /report:generate.*month/,
  );
  assert.equal(client.pushed.length, 0);
  const results = await producer.submitMany([
    { type: "email:send", payload: { to: "a@b.co", subject: "ok" } },
    { type: "report:generate", payload: { month: "2025-03" }, options: { delayMs: 10 } },
  ]);
  assert.equal(results.length, 2);
  assert.deepEqual(client.pushed[0].map((j) => j.type), ["email:send", "report:generate"]);
  assert.equal(client.pushed[0][1].delayMs, 10);
  assert.deepEqual(await producer.submitMany([]), []);
});
