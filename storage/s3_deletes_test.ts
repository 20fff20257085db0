import assert from "node:assert/strict";
import { InvalidError, UnavailableError } from "../errors.ts";
import { type DeleteOutcome, MAX_DELETE_BATCH, S3DeleteBatches } from "./s3_deletes.ts";

/** A fake server side: records the requests, answers from the test's functions. */
function fake(options: {
  many?: (keys: string[]) => Promise<DeleteOutcome[]>;
  one?: (key: string) => Promise<void>;
  notImplemented?: (error: unknown) => boolean;
} = {}) {
  const calls: { one: string[]; many: string[][] } = { one: [], many: [] };
  const batches = new S3DeleteBatches({
    deleteOne: (key) => {
      calls.one.push(key);
      return options.one?.(key) ?? Promise.resolve();
    },
    deleteMany: (keys) => {
      calls.many.push(keys);
      return options.many?.(keys) ?? Promise.resolve([]);
    },
    isNotImplemented: options.notImplemented ?? (() => false),
    url: (key) => `s3://b/${key}`,
  });
  return { batches, calls };
}

Deno.test("S3DeleteBatches: deletes asked together go as one multi-object delete; a lone one stays single", async () => {
  const { batches, calls } = fake();
  await batches.delete("alone");
  assert.deepEqual(calls, { one: ["alone"], many: [] });
  await Promise.all(["a", "b", "c"].map((key) => batches.delete(key)));
  assert.deepEqual(calls.many, [["a", "b", "c"]]);
  assert.deepEqual(calls.one, ["alone"]);
});

Deno.test("S3DeleteBatches: deletes asked while a request runs form the next batch; at most 1,000 keys a request", async () => {
  let release!: () => void;
  const first = new Promise<void>((resolve) => release = resolve);
  const { batches, calls } = fake({
    many: async (keys) => {
      if (calls.many.length === 1) await first;
      return keys.length > 0 ? [] : [];
    },
  });
  const keys = Array.from({ length: MAX_DELETE_BATCH + 5 }, (_, i) => `k${i}`);
  const done = keys.map((key) => batches.delete(key));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(calls.many.length, 1, "the first request is still out");
  const later = [batches.delete("x"), batches.delete("y")];
  release();
  await Promise.all([...done, ...later]);
  assert.deepEqual(calls.many.map((batch) => batch.length), [MAX_DELETE_BATCH, 7]);
  assert.deepEqual(calls.many[1], [...keys.slice(MAX_DELETE_BATCH), "x", "y"]);
});

Deno.test("S3DeleteBatches: per-key answers: a missing key is fine, AccessDenied is invalid, other codes unavailable", async () => {
  const { batches } = fake({
    many: () =>
      Promise.resolve([
        { key: "gone", code: "NoSuchKey" },
        { key: "denied", code: "AccessDenied", message: "Access Denied" },
        { key: "busy", code: "InternalError" },
      ]),
  });
  const [ok, gone, denied, busy] = await Promise.allSettled(
    ["ok", "gone", "denied", "busy"].map((key) => batches.delete(key)),
  );
  assert.equal(ok.status, "fulfilled");
  assert.equal(gone.status, "fulfilled");
  assert.ok((denied as PromiseRejectedResult).reason instanceof InvalidError);
  assert.match(
    (denied as PromiseRejectedResult).reason.message,
    /s3:\/\/b\/denied: AccessDenied Access Denied/,
  );
  assert.ok((busy as PromiseRejectedResult).reason instanceof UnavailableError);
});

Deno.test("S3DeleteBatches: a failed request fails its whole batch, and later deletes still go", async () => {
  let failing = true;
  const { batches } = fake({
    many: () =>
      failing ? Promise.reject(new UnavailableError("503 after 4 attempts")) : Promise.resolve([]),
  });
  const results = await Promise.allSettled(["a", "b"].map((key) => batches.delete(key)));
  assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
  failing = false;
  await Promise.all(["c", "d"].map((key) => batches.delete(key)));
});

Deno.test("S3DeleteBatches: a server without multi-object delete gets single deletes from then on", async () => {
  const notImplemented = new InvalidError("HTTP 501 NotImplemented");
  const { batches, calls } = fake({
    many: () => Promise.reject(notImplemented),
    notImplemented: (error) => error === notImplemented,
  });
  await Promise.all(["a", "b"].map((key) => batches.delete(key)));
  await Promise.all(["c", "d"].map((key) => batches.delete(key)));
  assert.deepEqual(calls.many, [["a", "b"]], "asked once");
  assert.deepEqual(calls.one, ["a", "b", "c", "d"]);
});
