/**
 * The DirectoryStore's write lock wait is bounded: a foreign process holding
 * the lock makes writes fail with `UnavailableError` after `lockTimeoutMs`,
 * nothing written, and writes go through again once the lock is released.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { InvalidError, UnavailableError } from "../errors.ts";
import { DirectoryStore } from "./directory_store.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A child process that takes the store's flock, says `locked`, and holds it until its stdin closes. */
async function holdLockInChild(root: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const file = await Deno.open(${
    JSON.stringify(join(root, ".~lock"))
  }, { read: true, write: true, create: true });
    await file.lock(true);
    await Deno.stdout.write(new TextEncoder().encode("locked\\n"));
    for await (const _ of Deno.stdin.readable) { /* hold until stdin closes */ }
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("lock holder exited early");
    seen += dec.decode(value);
  }
  reader.releaseLock();
  return {
    async release() {
      await child.stdin.close();
      await child.stdout.cancel();
      await child.status;
    },
  };
}

Deno.test("DirectoryStore: a lock held by another process fails writes with unavailable after lockTimeoutMs", async () => {
  const root = await Deno.makeTempDir({ prefix: "osqueue-dir-lock-" });
  try {
    const store = new DirectoryStore({ root, lockTimeoutMs: 300 });
    await store.put("k", enc.encode("v1"));
    const holder = await holdLockInChild(root);
    try {
      const started = performance.now();
      await assert.rejects(
        store.put("k", enc.encode("v2")),
        (error) => error instanceof UnavailableError && /lock/.test(error.message),
      );
      const waited = performance.now() - started;
      assert.ok(waited >= 250, `gave up after ${waited} ms, before the timeout`);
      await assert.rejects(store.delete("k"), UnavailableError);
      // Reads take no lock; nothing was written.
      assert.equal(dec.decode((await store.get("k"))!.body), "v1");
      assert.deepEqual(
        [...Deno.readDirSync(root)].map((e) => e.name).filter((n) => n.startsWith(".~tmp-")),
        [],
        "no temp file left behind",
      );
    } finally {
      await holder.release();
    }
    await store.put("k", enc.encode("v3"));
    assert.equal(dec.decode((await store.get("k"))!.body), "v3");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("DirectoryStore: a write waits for a lock released within lockTimeoutMs", async () => {
  const root = await Deno.makeTempDir({ prefix: "osqueue-dir-lock-" });
  try {
    const store = new DirectoryStore({ root, lockTimeoutMs: 5_000 });
    await store.put("k", enc.encode("v1"));
    // A second handle holds the flock too (flock excludes other open files alike).
    const other = await Deno.open(join(root, ".~lock"), { read: true, write: true });
    await other.lock(true);
    const put = store.put("k", enc.encode("v2"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    other.close();
    await put;
    assert.equal(dec.decode((await store.get("k"))!.body), "v2");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("DirectoryStore: a negative lockTimeoutMs is refused", () => {
  assert.throws(() => new DirectoryStore({ root: "/tmp/x", lockTimeoutMs: -1 }), InvalidError);
});
