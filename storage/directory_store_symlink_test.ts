import assert from "node:assert/strict";
import { join } from "node:path";
import { InvalidError } from "../errors.ts";
import { DirectoryStore } from "./directory_store.ts";

const text = (s: string) => new TextEncoder().encode(s);

/** The one file or directory entry directly in `dir`, besides the lock file. */
async function onlyEntry(dir: string): Promise<string> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.name.startsWith(".~")) names.push(entry.name);
  }
  assert.equal(names.length, 1, names.join(", "));
  return join(dir, names[0]);
}

Deno.test("DirectoryStore does not follow symbolic links planted inside its root", async () => {
  const base = await Deno.makeTempDir({ prefix: "osqueue-symlink-" });
  try {
    const root = join(base, "store");
    const outside = join(base, "outside");
    await Deno.mkdir(outside);
    await Deno.writeTextFile(join(outside, "secret"), "outside data");
    const store = new DirectoryStore({ root });

    // An object file replaced by a link to a file outside the root.
    await store.put("state", text("real"));
    const file = await onlyEntry(root);
    await Deno.remove(file);
    await Deno.symlink(join(outside, "secret"), file);
    await assert.rejects(store.get("state"), (error) => {
      assert.ok(error instanceof InvalidError);
      assert.match(error.message, /refusing to follow the symbolic link/);
      return true;
    });
    await assert.rejects(store.put("state", text("x")), InvalidError);
    await assert.rejects(store.delete("state"), InvalidError);
    assert.equal(await Deno.readTextFile(join(outside, "secret")), "outside data");
    await Deno.remove(file);

    // A directory replaced by a link to a directory outside the root.
    await store.put("archive/one", text("1"));
    const dir = (await Array.fromAsync(Deno.readDir(root))).find((e) => e.isDirectory)!;
    await Deno.remove(join(root, dir.name), { recursive: true });
    await Deno.symlink(outside, join(root, dir.name));
    await assert.rejects(store.put("archive/two", text("2")), InvalidError);
    await assert.rejects(store.get("archive/one"), InvalidError);
    assert.deepEqual(await store.list("archive/"), [], "list does not descend into links");
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(outside))).map((e) => e.name),
      ["secret"],
      "nothing was written outside the root",
    );

    // Ordinary keys still work.
    await store.put("fine/key", text("ok"));
    assert.equal(new TextDecoder().decode((await store.get("fine/key"))!.body), "ok");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("DirectoryStore: a create into a directory swapped for a link is refused", async () => {
  const base = await Deno.makeTempDir({ prefix: "osqueue-symlink-" });
  try {
    const root = join(base, "store");
    const outside = join(base, "outside");
    await Deno.mkdir(outside);
    const store = new DirectoryStore({ root });
    const create = { condition: { ifNoneMatch: "*" as const } };
    await store.put("log/1", text("1"), create); // the blocking create path
    const dir = (await Array.fromAsync(Deno.readDir(root))).find((e) => e.isDirectory)!;
    await Deno.remove(join(root, dir.name), { recursive: true });
    await Deno.symlink(outside, join(root, dir.name));
    await assert.rejects(store.put("log/2", text("2"), create), InvalidError);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(outside)), [], "nothing written outside");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("DirectoryStore: a root that is itself a symbolic link works for keys at the top and below", async () => {
  const real = await Deno.makeTempDir({ prefix: "osqueue-real-root-" });
  const link = `${real}-link`;
  await Deno.symlink(real, link);
  try {
    const store = new DirectoryStore({ root: link });
    const create = { condition: { ifNoneMatch: "*" as const } };
    await store.put("first", text("1"), create); // creates the root: the thread-pool path
    await store.put("top", text("2"), create); // the blocking path, in the root itself
    await store.put("log/1", text("3"), create);
    await store.delete("top");
    await store.delete("log/1");
    assert.deepEqual(await store.list(""), ["first"]);
    const names = [...Deno.readDirSync(real)].map((e) => e.name).filter((n) => !n.startsWith(".~"));
    assert.deepEqual(names.sort(), ["first~o", "log"], "written behind the link");
  } finally {
    await Deno.remove(link);
    await Deno.remove(real, { recursive: true });
  }
});
