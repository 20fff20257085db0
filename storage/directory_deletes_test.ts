import assert from "node:assert/strict";
import { join } from "node:path";
import { UnavailableError } from "../errors.ts";
import { DeleteBatches, MAX_DELETE_BATCH } from "./directory_deletes.ts";
import { SpareFiles } from "./spare_files.ts";

async function withFiles(
  names: string[],
  fn: (dir: string, paths: string[]) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "osqueue-deletes-test-" });
  try {
    const paths = names.map((name) => join(dir, name));
    for (const path of paths) {
      await Deno.mkdir(join(path, ".."), { recursive: true });
      await Deno.writeTextFile(path, path);
    }
    await fn(dir, paths);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function counted(options: { failSync?: string } = {}) {
  const counts = { locks: 0, syncs: [] as string[] };
  return {
    counts,
    options: {
      exclusive: async <T>(fn: () => Promise<T>): Promise<T> => {
        counts.locks++;
        return await fn();
      },
      syncDirectory: (dir: string) => {
        counts.syncs.push(dir);
        return dir === options.failSync ? Promise.reject(new Error("EIO")) : Promise.resolve();
      },
    },
  };
}

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

Deno.test("DeleteBatches: deletes that arrive during a batch share one lock and one fsync per directory", async () => {
  await withFiles(["a/1", "a/2", "a/3", "b/1", "b/2"], async (root, paths) => {
    const { counts, options } = counted();
    const deletes = new DeleteBatches({ ...options, root, spares: new SpareFiles({ root }) });
    await Promise.all(paths.map((path) => deletes.delete({ key: path, path })));
    for (const path of paths) assert.equal(await exists(path), false);
    assert.equal(counts.locks, 2, "the first alone, the other four together");
    assert.deepEqual(counts.syncs.sort(), [join(root, "a"), join(root, "a"), join(root, "b")]);
  });
});

Deno.test("DeleteBatches: a missing file is no error; a small file becomes a spare", async () => {
  await withFiles(["a/1"], async (root, [path]) => {
    const { options } = counted();
    const spares = new SpareFiles({ root });
    const deletes = new DeleteBatches({ ...options, root, spares });
    await deletes.delete({ key: "gone", path: join(root, "a", "missing") });
    await deletes.delete({ key: "a/1", path });
    assert.equal(await exists(path), false);
    assert.equal(spares.size, 1, "kept for reuse");
  });
});

Deno.test("DeleteBatches: a failed fsync fails that directory's deletes as unavailable, not the others", async () => {
  await withFiles(["a/1", "b/1"], async (root, [inA, inB]) => {
    const { options } = counted({ failSync: join(root, "a") });
    const deletes = new DeleteBatches({ ...options, root, spares: new SpareFiles({ root }) });
    const [a, b] = await Promise.allSettled([
      deletes.delete({ key: "a/1", path: inA }),
      deletes.delete({ key: "b/1", path: inB }),
    ]);
    assert.equal(a.status, "rejected");
    assert.ok((a as PromiseRejectedResult).reason instanceof UnavailableError);
    assert.match((a as PromiseRejectedResult).reason.message, /a\/1: removed but not synced: EIO/);
    assert.equal(b.status, "fulfilled");
  });
});

Deno.test("DeleteBatches: when the lock cannot be taken the batch fails and nothing is deleted", async () => {
  await withFiles(["a/1", "a/2"], async (root, paths) => {
    const deletes = new DeleteBatches({
      root,
      exclusive: () => Promise.reject(new UnavailableError("lock timeout")),
      spares: new SpareFiles({ root }),
    });
    const results = await Promise.allSettled(
      paths.map((path) => deletes.delete({ key: path, path })),
    );
    assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected"]);
    for (const path of paths) assert.equal(await exists(path), true);
  });
});

Deno.test("DeleteBatches: deletes asked one after another each run", async () => {
  await withFiles(["a/1", "a/2"], async (root, [first, second]) => {
    const { options } = counted();
    const deletes = new DeleteBatches({ ...options, root, spares: new SpareFiles({ root }) });
    await deletes.delete({ key: "a/1", path: first });
    await deletes.delete({ key: "a/2", path: second });
    assert.equal(await exists(second), false);
  });
});

Deno.test("DeleteBatches: a path through a symbolic link is refused and nothing behind it is deleted", async () => {
  await withFiles(["real/1", "a/1"], async (root, [behind, inA]) => {
    await Deno.symlink(join(root, "real"), join(root, "link"));
    await Deno.symlink(inA, join(root, "a", "2"));
    const { options } = counted();
    const deletes = new DeleteBatches({ ...options, root, spares: new SpareFiles({ root }) });
    const [throughDir, atName] = await Promise.allSettled([
      deletes.delete({ key: "link/1", path: join(root, "link", "1") }),
      deletes.delete({ key: "a/2", path: join(root, "a", "2") }),
    ]);
    assert.equal(throughDir.status, "rejected");
    assert.match((throughDir as PromiseRejectedResult).reason.message, /symbolic link/);
    assert.equal(atName.status, "rejected");
    assert.equal(await exists(behind), true);
    assert.equal(await exists(inA), true);
    assert.equal(await exists(join(root, "a", "2")), true, "the link itself stays too");
  });
});

Deno.test("DeleteBatches: a large number of deletes goes in batches of at most MAX_DELETE_BATCH", async () => {
  const names = Array.from({ length: MAX_DELETE_BATCH + 10 }, (_, i) => `a/${i}`);
  await withFiles(names, async (root, paths) => {
    const { counts, options } = counted();
    const deletes = new DeleteBatches({ ...options, root, spares: new SpareFiles({ root }) });
    await Promise.all(paths.map((path) => deletes.delete({ key: path, path })));
    for (const path of paths) assert.equal(await exists(path), false);
    assert.equal(counts.locks, 3, "the first alone, then 256, then the last 9");
  });
});
