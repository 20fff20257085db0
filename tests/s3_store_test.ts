/**
 * S3Store against a real S3 server (the local radosgw of scripts/rgw_start.sh
 * in CI): the store conformance suite plus S3-specific cases.
 *
 * Configured by the environment: OSQUEUE_S3_ENDPOINT (e.g. http://127.0.0.1:7480),
 * OSQUEUE_S3_BUCKET (default osqueue-test, created if missing), AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_REGION (default us-east-1); path-style addressing.
 * Without OSQUEUE_S3_ENDPOINT the cases are ignored with a warning, except
 * under CI, where a failing test says so: S3 tests never skip silently in CI.
 */
import assert from "node:assert/strict";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { AmbiguousWriteError, ConflictError, InvalidError, UnavailableError } from "../errors.ts";
import { defineConformanceTests } from "../storage/_conformance.ts";
import { S3Store, type S3StoreOptions } from "../storage/s3_store.ts";

const endpoint = Deno.env.get("OSQUEUE_S3_ENDPOINT") ?? "";
const bucket = Deno.env.get("OSQUEUE_S3_BUCKET") ?? "osqueue-test";
const region = Deno.env.get("AWS_REGION") ?? "us-east-1";
const configured = endpoint !== "";
const inCi = (Deno.env.get("CI") ?? "") !== "" && Deno.env.get("CI") !== "false";

if (!configured) {
  if (inCi) {
    Deno.test("S3Store on a real server: OSQUEUE_S3_ENDPOINT must be set in CI", () => {
      throw new Error(
        "OSQUEUE_S3_ENDPOINT is not set but CI is: the S3 tests must not be skipped in CI " +
          "(start radosgw with scripts/rgw_start.sh and source its env.sh)",
      );
    });
  } else {
    console.warn(
      "\n!!! tests/s3_store_test.ts: OSQUEUE_S3_ENDPOINT is not set, S3 tests are IGNORED.\n" +
        "!!! Run them with: scripts/rgw_start.sh && source /tmp/osqueue-rgw/env.sh\n",
    );
  }
}

const run = crypto.randomUUID().slice(0, 8);
let bucketReady: Promise<void> | undefined;

/** Creates the bucket once per file if it is missing. */
function ensureBucket(): Promise<void> {
  bucketReady ??= (async () => {
    const client = new S3Client({ endpoint, region, forcePathStyle: true, maxAttempts: 3 });
    try {
      try {
        await client.send(new HeadBucketCommand({ Bucket: bucket }));
      } catch {
        try {
          await client.send(new CreateBucketCommand({ Bucket: bucket }));
        } catch (error) {
          const name = (error as { name?: string }).name;
          if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw error;
        }
      }
    } finally {
      client.destroy();
    }
  })();
  return bucketReady;
}

function openStore(options: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({ bucket, endpoint, region, forcePathStyle: true, ...options });
}

/** Deletes everything under `prefix` (relative to the bucket root). */
async function removeAll(store: S3Store, prefix: string): Promise<void> {
  for (const key of await store.list(prefix)) await store.delete(key);
}

let target = 0;
defineConformanceTests({
  name: "S3Store (real server)",
  ignore: !configured,
  writers: 8,
  rounds: 20,
  open: async () => {
    await ensureBucket();
    // The store prefix stays empty so that the suite's 1024-byte keys fit S3's key limit;
    // prefixes are covered by a case below.
    const store = openStore();
    const prefix = `conformance/${run}/${target++}/`;
    return {
      store,
      prefix,
      cleanup: async () => {
        try {
          await removeAll(store, prefix);
        } finally {
          store.close();
        }
      },
    };
  },
});

function s3Test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name: `S3Store (real server): ${name}`, ignore: !configured, fn });
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

s3Test(
  "concurrent If-Match writers never lose an update; a conflict never hides a success",
  async () => {
    await ensureBucket();
    const store = openStore({ prefix: `race/${run}` });
    const writers = 16;
    const rounds = 8;
    const key = "counter";
    const reportedSuccess = new Set<string>();
    let conflicts = 0;
    let ambiguous = 0;
    let landedAfterAmbiguous = 0;
    const read = async (): Promise<{ ids: string[]; etag: string }> => {
      const found = await store.get(key);
      assert.ok(found !== null);
      return { ids: JSON.parse(decoder.decode(found.body)) as string[], etag: found.etag };
    };
    try {
      await store.put(key, encoder.encode("[]"), { condition: { ifNoneMatch: "*" } });
      await Promise.all(Array.from({ length: writers }, async (_, writer) => {
        for (let round = 0; round < rounds; round++) {
          const id = `${writer}:${round}`;
          for (let attempt = 0;; attempt++) {
            assert.ok(attempt < 5_000, `writer ${id} starved`);
            const current = await read();
            const body = encoder.encode(JSON.stringify([...current.ids, id]));
            try {
              await store.put(key, body, { condition: { ifMatch: current.etag } });
              reportedSuccess.add(id);
              break;
            } catch (error) {
              if (error instanceof ConflictError) {
                conflicts++;
                // Only this writer ever writes `id`: if it is there now, a success was reported as a conflict.
                assert.ok(
                  !(await read()).ids.includes(id),
                  `${id}: a landed write was reported as a conflict`,
                );
              } else if (error instanceof AmbiguousWriteError) {
                ambiguous++;
                if ((await read()).ids.includes(id)) {
                  landedAfterAmbiguous++;
                  break;
                }
              } else if (!(error instanceof UnavailableError)) {
                throw error;
              }
            }
          }
        }
      }));
      const final = (await read()).ids;
      assert.equal(new Set(final).size, final.length, "an update was applied twice");
      assert.equal(final.length, writers * rounds, "an update was lost");
      for (const id of reportedSuccess) {
        assert.ok(
          final.includes(id),
          `${id} reported success but is missing`,
        );
      }
      assert.ok(
        conflicts + ambiguous > 0,
        "the writers never collided: the race was not exercised",
      );
      console.log(
        `  ${writers}x${rounds} writers: ${conflicts} conflicts, ${ambiguous} ambiguous ` +
          `(RGW's HTTP 500 race losers), ${landedAfterAmbiguous} of those had landed`,
      );
    } finally {
      await removeAll(store, "");
      store.close();
    }
  },
);

s3Test("a quoted If-Match ETag works (sent unquoted), and a stale one conflicts", async () => {
  await ensureBucket();
  const store = openStore({ prefix: `quote/${run}` });
  try {
    const first = await store.put("k", encoder.encode("v1"));
    assert.ok(!first.includes('"'), "ETags come back unquoted");
    const second = await store.put("k", encoder.encode("v2"), {
      condition: { ifMatch: `"${first}"` },
    });
    await assert.rejects(
      store.put("k", encoder.encode("v3"), { condition: { ifMatch: `"${first}"` } }),
      ConflictError,
    );
    assert.equal((await store.get("k"))?.etag, second);
  } finally {
    await removeAll(store, "");
    store.close();
  }
});

s3Test("the store prefix scopes keys, and list pages through continuation tokens", async () => {
  await ensureBucket();
  const base = `scoped/${run}`;
  const root = openStore();
  const store = openStore({ prefix: `${base}/inner/`, listPageSize: 2 });
  try {
    assert.equal(store.description, `s3://${bucket}/${base}/inner`);
    const keys = ["q/e", "q/a", "q/c", "q/b", "q/d", "r/x"];
    for (const key of keys) await store.put(key, encoder.encode(key));
    await root.put(`${base}/outside`, encoder.encode("not in the store"));
    assert.deepEqual(await store.list("q/"), ["q/a", "q/b", "q/c", "q/d", "q/e"]);
    assert.deepEqual(await store.list(""), [...keys].sort());
    assert.deepEqual(await root.list(`${base}/inner/r`), [`${base}/inner/r/x`]);
    // List windows: startAfter is relative to the store prefix; limit stops the 2-key pages early.
    assert.deepEqual(await store.list("q/", { startAfter: "q/b", limit: 2 }), ["q/c", "q/d"]);
    assert.deepEqual(await store.list("", { startAfter: "q/d" }), ["q/e", "r/x"]);
    assert.deepEqual(await store.list("", { startAfter: "", limit: 1 }), ["q/a"]);
    assert.equal(decoder.decode((await root.get(`${base}/inner/q/a`))?.body), "q/a");
  } finally {
    await removeAll(root, `${base}/`);
    root.close();
    store.close();
  }
});

s3Test("a missing bucket and bad credentials are InvalidError", async () => {
  const missing = openStore({ bucket: `osqueue-missing-${run}` });
  const badKey = openStore({ credentials: { accessKeyId: "nobody", secretAccessKey: "wrong" } });
  try {
    await assert.rejects(missing.get("k"), InvalidError);
    await assert.rejects(
      missing.put("k", encoder.encode("x"), { condition: { ifNoneMatch: "*" } }),
      InvalidError,
    );
    await assert.rejects(badKey.get("k"), InvalidError);
  } finally {
    missing.close();
    badKey.close();
  }
});

s3Test(
  "deletes asked together remove every key in multi-object deletes; missing keys are fine",
  async () => {
    await ensureBucket();
    const store = openStore({ prefix: `deletes/${run}` });
    try {
      const keys = Array.from({ length: 40 }, (_, i) => `log/${String(i).padStart(4, "0")}`);
      await Promise.all(keys.map((key) => store.put(key, encoder.encode(key))));
      assert.equal((await store.list("log/")).length, 40);
      await Promise.all(
        [...keys, "log/missing-1", "log/missing-2"].map((key) => store.delete(key)),
      );
      assert.deepEqual(await store.list("log/"), []);
    } finally {
      store.close();
    }
  },
);
