import assert from "node:assert/strict";
import { join } from "node:path";
import { InvalidError } from "../errors.ts";
import { readStable } from "./directory_files.ts";
import { DirectoryStore } from "./directory_store.ts";
import { MAX_SPARES, RECYCLE_AFTER_MS, SPARE_PREFIX, SpareFiles } from "./spare_files.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const create = { condition: { ifNoneMatch: "*" as const } };

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "osqueue-spare-test-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function names(dir: string, prefix = SPARE_PREFIX): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.startsWith(prefix)).sort();
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), "condition not reached");
}

Deno.test("SpareFiles: a recycled file is handed out only after its quarantine, oldest first, in its own directory", async () => {
  await withRoot(async (root) => {
    let now = 0;
    const spares = new SpareFiles({ root, clock: { now: () => now } });
    const log = join(root, "log");
    await Deno.mkdir(log);
    const first = spares.recycledName(log);
    await Deno.writeTextFile(first, "first");
    spares.recycled(first);
    now = 10;
    const second = spares.recycledName(log);
    await Deno.writeTextFile(second, "second");
    spares.recycled(second);
    assert.equal(spares.take(log), undefined, "nothing is ready yet");
    now = RECYCLE_AFTER_MS;
    assert.equal(spares.take(root), undefined, "spares of log/ are not for other directories");
    assert.deepEqual(spares.take(log), { path: first, fresh: false });
    assert.equal(spares.take(log), undefined, "the second waits 10 ms more");
    now = RECYCLE_AFTER_MS + 10;
    assert.deepEqual(spares.take(log), { path: second, fresh: false });
    assert.equal(spares.size, 0);
  });
});

Deno.test("DirectoryStore: a deleted record's file is reused after the quarantine, not reallocated", async () => {
  await withRoot(async (root) => {
    let now = 0;
    const store = new DirectoryStore({ root, clock: { now: () => now } });
    await store.put("log/1", enc.encode("one"), create);
    const ino = Deno.statSync(join(root, "log", "1~o")).ino;
    await store.delete("log/1");
    assert.equal(await store.get("log/1"), null);
    assert.equal(names(join(root, "log")).length, 1, "kept as a spare beside the records");
    await store.put("log/2", enc.encode("two"), create); // too early: a new file
    assert.notEqual(Deno.statSync(join(root, "log", "2~o")).ino, ino);
    now = RECYCLE_AFTER_MS;
    await store.put("log/3", enc.encode("three"), create);
    assert.equal(Deno.statSync(join(root, "log", "3~o")).ino, ino);
    assert.equal(dec.decode((await store.get("log/3"))!.body), "three"); // truncated, rewritten
    assert.deepEqual(names(join(root, "log")), []);
    assert.deepEqual(await store.list(""), ["log/2", "log/3"]);
  });
});

Deno.test("DirectoryStore: a reused file holds exactly the new body, shorter or longer than the old one", async () => {
  await withRoot(async (root) => {
    let now = 0;
    const store = new DirectoryStore({ root, clock: { now: () => now } });
    const long = "x".repeat(10_000);
    await store.put("log/1", enc.encode(long), create);
    await store.put("log/2", enc.encode("tiny"), create);
    await store.delete("log/1");
    await store.delete("log/2");
    now = RECYCLE_AFTER_MS;
    await store.put("log/3", enc.encode("short"), create); // into the 10,000-byte file
    await store.put("log/4", enc.encode(long + long), create); // into the 4-byte file
    assert.equal(dec.decode((await store.get("log/3"))!.body), "short");
    assert.equal(Deno.statSync(join(root, "log", "3~o")).size, 5);
    assert.equal(dec.decode((await store.get("log/4"))!.body), long + long);
    assert.deepEqual(names(join(root, "log")), [], "both spares were used");
  });
});

Deno.test("DirectoryStore: large files are unlinked, not kept; at most MAX_SPARES are kept", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root, clock: { now: () => 0 } });
    await store.put("big", new Uint8Array(70 * 1024), create);
    await store.delete("big");
    assert.deepEqual(names(root), []);
    for (let i = 0; i < MAX_SPARES + 3; i++) await store.put(`k/${i}`, enc.encode("x"), create);
    for (let i = 0; i < MAX_SPARES + 3; i++) await store.delete(`k/${i}`);
    assert.equal(names(join(root, "k")).length, MAX_SPARES);
    assert.deepEqual(await store.list(""), []);
  });
});

Deno.test("DirectoryStore: spareFiles keeps fresh files ready in its own directory, and a create links one", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root, spareFiles: 4 });
    try {
      await store.put("first", enc.encode("1"), create); // creates the root, starts the fill
      const [dirName] = names(root);
      const dir = join(root, dirName);
      await until(() => names(dir, "").filter((n) => n !== ".lock").length === 4);
      const ready = names(dir, "").filter((n) => n !== ".lock");
      const inodes = new Set(ready.map((name) => Deno.statSync(join(dir, name)).ino));
      await store.put("log/a", enc.encode("a"), create); // log/ does not exist yet: its own file
      await store.put("log/b", enc.encode("b"), create);
      assert.ok(inodes.has(Deno.statSync(join(root, "log", "b~o")).ino), "took a ready file");
      await until(() => names(dir, "").filter((n) => n !== ".lock").length === 3); // name dropped later
      assert.equal(dec.decode((await store.get("log/b"))!.body), "b");
      assert.deepEqual(await store.list(""), ["first", "log/a", "log/b"]);
    } finally {
      await store.close();
    }
  });
});

Deno.test("DirectoryStore: a gone instance's spare directory is removed, a live one's kept", async () => {
  await withRoot(async (root) => {
    const live = new DirectoryStore({ root, spareFiles: 2 });
    const gone = new DirectoryStore({ root, spareFiles: 2 });
    await live.put("a", enc.encode("a"), create);
    await gone.put("b", enc.encode("b"), create);
    await gone.close(); // as if its process ended: the lock is free
    assert.equal(names(root).length, 2);
    const next = new DirectoryStore({ root, spareFiles: 2 });
    try {
      await next.put("c", enc.encode("c"), create);
      assert.equal(names(root).length, 2, "the live one's and the new one's");
      assert.deepEqual(await next.list(""), ["a", "b", "c"]);
    } finally {
      await next.close();
      await live.close();
    }
  });
});

Deno.test("DirectoryStore: a negative spareFiles is refused", () => {
  assert.throws(() => new DirectoryStore({ root: "/tmp/x", spareFiles: -1 }), InvalidError);
});

Deno.test("readStable: a file deleted and rewritten between open and read reads as missing", async () => {
  await withRoot(async (root) => {
    const path = join(root, "record");
    await Deno.writeTextFile(path, "record 1");
    const spare = join(root, `${SPARE_PREFIX}x`);
    const body = await readStable(path, async () => {
      await Deno.rename(path, spare); // deleted, kept as a spare...
      await Deno.writeTextFile(spare, "other object"); // ...and reused for another object
    });
    assert.equal(body, null);
  });
});

Deno.test("readStable: a file replaced between open and read is read again", async () => {
  await withRoot(async (root) => {
    const path = join(root, "head");
    await Deno.writeTextFile(path, "version 1");
    let replaced = false;
    const body = await readStable(path, async () => {
      if (replaced) return;
      replaced = true;
      const old = join(root, `${SPARE_PREFIX}old`);
      await Deno.link(path, old);
      await Deno.writeTextFile(join(root, "tmp"), "version 2");
      await Deno.rename(join(root, "tmp"), path); // a CAS put
      await Deno.writeTextFile(old, "garbage"); // the old file reused
    });
    assert.equal(dec.decode(body!), "version 2");
  });
});
