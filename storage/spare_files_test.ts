import assert from "node:assert/strict";
import { join } from "node:path";
import { InvalidError } from "../errors.ts";
import { readStable } from "./directory_files.ts";
import { DirectoryStore } from "./directory_store.ts";
import { MAX_SPARES, RECYCLE_AFTER_MS, SPARE_PREFIX, SpareFiles } from "./spare_files.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "osqueue-spare-test-" });
  try {
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

function spareNames(root: string): string[] {
  return [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => n.startsWith(SPARE_PREFIX));
}

Deno.test("SpareFiles: a spare is claimed only after its quarantine, oldest first", async () => {
  await withRoot(async (root) => {
    let now = 0;
    const spares = new SpareFiles({ root, clock: { now: () => now } });
    const first = spares.newName();
    await Deno.writeTextFile(first, "first");
    spares.add(first);
    now = 10;
    const second = spares.newName();
    await Deno.writeTextFile(second, "second");
    spares.add(second);
    assert.equal(spares.claimSync(join(root, "t1")), false, "nothing is ready yet");
    now = RECYCLE_AFTER_MS;
    assert.equal(spares.claimSync(join(root, "t1")), true);
    assert.equal(await Deno.readTextFile(join(root, "t1")), "first");
    assert.equal(await spares.claim(join(root, "t2")), false, "the second waits 10 ms more");
    now = RECYCLE_AFTER_MS + 10;
    assert.equal(await spares.claim(join(root, "t2")), true);
    assert.equal(await Deno.readTextFile(join(root, "t2")), "second");
    assert.equal(spares.size, 0);
  });
});

Deno.test("SpareFiles: a spare taken by another process is skipped", async () => {
  await withRoot(async (root) => {
    let now = 0;
    const spares = new SpareFiles({ root, clock: { now: () => now } });
    const gone = spares.newName();
    const kept = spares.newName();
    await Deno.writeTextFile(gone, "gone");
    await Deno.writeTextFile(kept, "kept");
    spares.add(gone);
    spares.add(kept);
    await Deno.rename(gone, join(root, "elsewhere")); // another process claimed it
    now = RECYCLE_AFTER_MS;
    assert.equal(spares.claimSync(join(root, "mine")), true);
    assert.equal(await Deno.readTextFile(join(root, "mine")), "kept");
    assert.equal(spares.claimSync(join(root, "more")), false);
  });
});

Deno.test("DirectoryStore: a deleted record's file is reused after the quarantine, not reallocated", async () => {
  await withRoot(async (root) => {
    let now = 0;
    const store = new DirectoryStore({ root, clock: { now: () => now } });
    const create = { condition: { ifNoneMatch: "*" as const } };
    await store.put("log/1", enc.encode("one"), create);
    const ino = Deno.statSync(join(root, "log", "1~o")).ino;
    await store.delete("log/1");
    assert.equal(await store.get("log/1"), null);
    assert.equal(spareNames(root).length, 1);
    await store.put("log/2", enc.encode("two"), create); // too early: a new file
    assert.notEqual(Deno.statSync(join(root, "log", "2~o")).ino, ino);
    now = RECYCLE_AFTER_MS;
    await store.put("log/3", enc.encode("three"), create);
    assert.equal(Deno.statSync(join(root, "log", "3~o")).ino, ino);
    assert.equal(dec.decode((await store.get("log/3"))!.body), "three"); // truncated, rewritten
    assert.deepEqual(spareNames(root), []);
    // The async path (a large body) recycles too.
    await store.delete("log/2");
    now += RECYCLE_AFTER_MS;
    const big = new Uint8Array(100_000).fill(120);
    await store.put("log/4", big, create);
    assert.deepEqual(spareNames(root), []);
    assert.equal((await store.get("log/4"))!.body.length, 100_000);
  });
});

Deno.test("DirectoryStore: spares left by an earlier process are adopted; large files are not kept", async () => {
  await withRoot(async (root) => {
    let now = 0;
    const clock = { now: () => now };
    const first = new DirectoryStore({ root, clock });
    const create = { condition: { ifNoneMatch: "*" as const } };
    await first.put("small", enc.encode("s"), create);
    await first.put("large", new Uint8Array(70 * 1024), create);
    await first.delete("small");
    await first.delete("large");
    assert.equal(spareNames(root).length, 1, "only the small file is kept");
    const second = new DirectoryStore({ root, clock }); // e.g. after a restart
    await second.put("warmup", enc.encode("w"), create); // adopts now = 0
    now = RECYCLE_AFTER_MS;
    await second.put("next", enc.encode("n"), create);
    assert.deepEqual(spareNames(root), []);
    assert.deepEqual(await second.list(""), ["next", "warmup"]);
  });
});

Deno.test("DirectoryStore: at most MAX_SPARES files are kept", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root, clock: { now: () => 0 } });
    const create = { condition: { ifNoneMatch: "*" as const } };
    for (let i = 0; i < MAX_SPARES + 3; i++) {
      await store.put(`k/${i}`, enc.encode("x"), create);
    }
    for (let i = 0; i < MAX_SPARES + 3; i++) await store.delete(`k/${i}`);
    assert.equal(spareNames(root).length, MAX_SPARES);
    assert.deepEqual(await store.list(""), []);
  });
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

Deno.test("DirectoryStore: spareFiles keeps empty files ready, and a create takes one", async () => {
  await withRoot(async (root) => {
    const store = new DirectoryStore({ root, spareFiles: 4, clock: { now: () => 0 } });
    const create = { condition: { ifNoneMatch: "*" as const } };
    await store.put("first", enc.encode("1"), create); // creates the root, starts the fill
    for (let i = 0; i < 200 && spareNames(root).length < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const ready = spareNames(root);
    assert.equal(ready.length, 4);
    const inodes = new Set(ready.map((name) => Deno.statSync(join(root, name)).ino));
    await store.put("second", enc.encode("2"), create);
    assert.ok(inodes.has(Deno.statSync(join(root, "second~o")).ino), "took a ready file");
    assert.equal(spareNames(root).length, 3); // 3 of 4 left: no refill yet
    assert.equal(dec.decode((await store.get("second"))!.body), "2");
  });
});

Deno.test("DirectoryStore: a negative spareFiles is refused", () => {
  assert.throws(() => new DirectoryStore({ root: "/tmp/x", spareFiles: -1 }), InvalidError);
});
