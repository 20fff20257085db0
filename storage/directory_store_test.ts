import assert from "node:assert/strict";
import { join } from "node:path";
import { AmbiguousWriteError, ConflictError, InvalidError, UnavailableError } from "../errors.ts";
import {
  assertCounter,
  defineConformanceTests,
  readCounter,
  runCounterWriters,
} from "./_conformance.ts";
import { DirectoryStore } from "./directory_store.ts";

defineConformanceTests({
  name: "DirectoryStore",
  open: async () => {
    const root = await Deno.makeTempDir({ prefix: "osqueue-dir-conformance-" });
    return {
      store: new DirectoryStore({ root: `${root}/store` }),
      prefix: "",
      cleanup: () => Deno.remove(root, { recursive: true }),
    };
  },
});

defineConformanceTests({
  name: "DirectoryStore (every write async)",
  open: async () => {
    const root = await Deno.makeTempDir({ prefix: "osqueue-dir-conformance-" });
    return {
      store: new DirectoryStore({ root: `${root}/store`, blockingWriteMaxBytes: 0 }),
      prefix: "",
      cleanup: () => Deno.remove(root, { recursive: true }),
    };
  },
});

const enc = new TextEncoder();
const dec = new TextDecoder();

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "osqueue-dir-test-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

async function entries(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

async function allNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    names.push(entry.name);
    if (entry.isDirectory) names.push(...await allNames(join(dir, entry.name)));
  }
  return names;
}

Deno.test("DirectoryStore: two instances on one root share the lock", async () => {
  await withRoot(async (root) => {
    const a = new DirectoryStore({ root });
    const b = new DirectoryStore({ root });
    await Promise.all([
      runCounterWriters(a, "shared", { writers: 4, rounds: 20, idPrefix: "a" }),
      runCounterWriters(b, "shared", { writers: 4, rounds: 20, idPrefix: "b" }),
    ]);
    assertCounter(await readCounter(a, "shared"), 160);
  });
});

Deno.test("DirectoryStore: on-disk layout keeps keys and directories apart", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root });
    assert.equal(store.description, `dir:${root}`);
    await store.put("state.json", enc.encode("{}"));
    await store.put("a", enc.encode("short"));
    await store.put("a/b", enc.encode("long"));
    await store.put("Up/.x y", enc.encode("escaped"));
    assert.equal(dec.decode(await Deno.readFile(join(root, "state.json~o"))), "{}");
    assert.equal(dec.decode(await Deno.readFile(join(root, "a~o"))), "short");
    assert.equal(dec.decode(await Deno.readFile(join(root, "a", "b~o"))), "long");
    assert.equal(dec.decode(await Deno.readFile(join(root, "%55p", "%2Ex%20y~o"))), "escaped");
    assert.deepEqual(await entries(root), ["%55p", ".~lock", "a", "a~o", "state.json~o"]);
  });
});

Deno.test("DirectoryStore: a long segment is split over ~+ directories", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root });
    const segment = "x".repeat(300);
    await store.put(`${segment}/end`, enc.encode("deep"));
    await store.put(segment, enc.encode("file"));
    const [first] = (await entries(root)).filter((name) => name.endsWith("~+"));
    assert.equal(first, `${"x".repeat(128)}~+`);
    for (const name of await allNames(root)) assert.ok(name.length <= 130, name);
    assert.deepEqual(await store.list(""), [segment, `${segment}/end`]);
    assert.equal(dec.decode((await store.get(`${segment}/end`))!.body), "deep");
  });
});

Deno.test("DirectoryStore: temp, lock and foreign files are never listed", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root });
    await store.put("dir/real", enc.encode("x"));
    await Deno.writeTextFile(join(root, ".~tmp-left-by-a-crash"), "partial");
    await Deno.writeTextFile(join(root, "dir", ".~tmp-another"), "partial");
    await Deno.writeTextFile(join(root, "README"), "not an object");
    await Deno.writeTextFile(join(root, "UPPER~o"), "not canonical");
    await Deno.writeTextFile(join(root, "dir", "bad%zz~o"), "bad escape");
    await Deno.mkdir(join(root, "Foreign Dir"));
    await Deno.writeTextFile(join(root, "Foreign Dir", "x~o"), "under a foreign directory");
    assert.deepEqual(await store.list(""), ["dir/real"]);
  });
});

Deno.test("DirectoryStore: failed and successful CAS leave no temp files", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root });
    const etag = await store.put("k", enc.encode("1"), { condition: { ifNoneMatch: "*" } });
    await assert.rejects(
      () => store.put("k", enc.encode("2"), { condition: { ifNoneMatch: "*" } }),
      ConflictError,
    );
    await assert.rejects(
      () => store.put("k", enc.encode("2"), { condition: { ifMatch: "stale" } }),
      ConflictError,
    );
    await store.put("k", enc.encode("3"), { condition: { ifMatch: etag } });
    assert.deepEqual(await entries(root), [".~lock", "k~o"]);
  });
});

Deno.test("DirectoryStore: the ETag is a content hash (ABA is documented)", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root });
    const body = enc.encode("same bytes");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
    const expected = [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const first = await store.put("k", body);
    assert.equal(first, expected);
    await store.put("k", enc.encode("other"));
    assert.equal(await store.put("k", body), first);
    // A → B → A: the first ETag matches again.
    await store.put("k", enc.encode("next"), { condition: { ifMatch: first } });
  });
});

Deno.test("DirectoryStore: creates a missing root and survives reopening", async () => {
  await withRoot(async (root) => {
    const nested = join(root, "a", "b", "c");
    const store = new DirectoryStore({ root: nested });
    assert.equal(await store.get("k"), null);
    assert.deepEqual(await store.list(""), []);
    await store.put("k", enc.encode("kept"));
    assert.ok((await Deno.stat(nested)).isDirectory);
    const reopened = new DirectoryStore({ root: nested });
    assert.equal(dec.decode((await reopened.get("k"))!.body), "kept");
  });
});

Deno.test("DirectoryStore: a root that is a file gives UnavailableError", async () => {
  await withRoot(async (root) => {
    const file = join(root, "file");
    await Deno.writeTextFile(file, "");
    const store = new DirectoryStore({ root: file });
    await assert.rejects(() => store.put("k", enc.encode("x")), UnavailableError);
    await assert.rejects(() => store.delete("k"), UnavailableError);
  });
});

Deno.test("DirectoryStore: aborted requests", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root });
    const signal = AbortSignal.abort();
    await assert.rejects(
      () => store.put("k", enc.encode("x"), { condition: { ifNoneMatch: "*" }, signal }),
      AmbiguousWriteError,
    );
    assert.equal(await store.get("k"), null);
    await assert.rejects(() => store.get("k", { signal }), { name: "AbortError" });
    await assert.rejects(() => store.list("", { signal }), { name: "AbortError" });
  });
});

Deno.test("DirectoryStore: rejects an empty root and malformed conditions", async () => {
  assert.throws(() => new DirectoryStore({ root: "" }), InvalidError);
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root });
    const condition = { ifNoneMatch: "etag" } as unknown as { ifNoneMatch: "*" };
    await assert.rejects(() => store.put("k", enc.encode("x"), { condition }), InvalidError);
    assert.equal(await store.get("k"), null);
  });
});

Deno.test("DirectoryStore: small creates finish before put returns, larger ones go through the thread pool", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root, blockingWriteMaxBytes: 8 });
    await store.put("first", enc.encode("x"), { condition: { ifNoneMatch: "*" } }); // creates the root
    const small = store.put("log/1", enc.encode("12345678"), { condition: { ifNoneMatch: "*" } });
    const names = () => [...Deno.readDirSync(join(root, "log"))].map((e) => e.name).sort();
    assert.deepEqual(names(), ["1~o"]); // on disk already, before any await
    await small;
    const large = store.put("log/2", enc.encode("123456789"), { condition: { ifNoneMatch: "*" } });
    assert.deepEqual(names(), ["1~o"]); // not yet
    await large;
    assert.deepEqual(await entries(join(root, "log")), ["1~o", "2~o"]);
    await assert.rejects(
      store.put("log/1", enc.encode("again"), { condition: { ifNoneMatch: "*" } }),
      ConflictError,
    );
    assert.equal(dec.decode((await store.get("log/1"))!.body), "12345678");
    assert.deepEqual((await allNames(join(root, "log"))).filter((n) => n.startsWith(".~")), []);
  });
});

Deno.test("DirectoryStore: a negative blockingWriteMaxBytes is refused", () => {
  assert.throws(
    () => new DirectoryStore({ root: "/tmp/x", blockingWriteMaxBytes: -1 }),
    InvalidError,
  );
});
