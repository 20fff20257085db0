import assert from "node:assert/strict";
import { assertCounter, type CounterStats, readCounter } from "../storage/_conformance.ts";
import { DirectoryStore } from "../storage/directory_store.ts";
import { LineLog } from "./_helpers.ts";

const CHILD = new URL("./_cas_child.ts", import.meta.url).pathname;
const PROCESSES = 4;
const WRITERS = 2; // concurrent loops inside each process
const ROUNDS = 25; // increments per loop

Deno.test("DirectoryStore: CAS is atomic across processes", async () => {
  const root = await Deno.makeTempDir({ prefix: "osqueue-multiprocess-" });
  try {
    const children = Array.from({ length: PROCESSES }, (_, i) => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          `--allow-read=${root}`,
          `--allow-write=${root}`,
          CHILD,
          root,
          "jobs/counter",
          `p${i}`,
          String(WRITERS),
          String(ROUNDS),
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      return { child, output: new LineLog(child.stdout) };
    });
    // Start all children together so that their loops overlap.
    for (const { output } of children) await output.waitFor(/^ready$/);
    const go = new TextEncoder().encode("go\n");
    for (const { child } of children) {
      const writer = child.stdin.getWriter();
      await writer.write(go);
      await writer.close();
    }
    const stats: CounterStats[] = [];
    for (const { child, output } of children) {
      const status = await child.status;
      await output.done;
      assert.equal(output.lines.length, 2, `child printed ${JSON.stringify(output.lines)}`);
      stats.push(JSON.parse(output.lines[1]));
      assert.equal(status.code, 0, "child failed");
    }
    const store = new DirectoryStore({ root });
    const state = await readCounter(store, "jobs/counter");
    assertCounter(state, PROCESSES * WRITERS * ROUNDS);
    for (let i = 0; i < PROCESSES; i++) {
      const mine = state.applied.filter((id) => id.startsWith(`p${i}.`));
      assert.equal(mine.length, WRITERS * ROUNDS, `process ${i} lost updates`);
    }
    const conflicts = stats.reduce((n, s) => n + s.conflicts, 0);
    console.log(`${PROCESSES} processes, ${state.count} increments, ${conflicts} conflicts`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
