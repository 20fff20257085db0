/**
 * Child process of `directory_store_multiprocess_test.ts`: runs
 * read-increment-CAS loops on one DirectoryStore key.
 *
 * Usage: `deno run --allow-read=<root> --allow-write=<root> tests/_cas_child.ts <root> <key> <id> <writers> <rounds>`.
 * Prints `ready`, waits for a line on stdin (so that all children start
 * together), runs, prints its stats as JSON and exits.
 *
 * @module
 */
import { runCounterWriters } from "../storage/_conformance.ts";
import { DirectoryStore } from "../storage/directory_store.ts";

const [root, key, id, writers, rounds] = Deno.args;
const store = new DirectoryStore({ root });
const encoder = new TextEncoder();

await Deno.stdout.write(encoder.encode("ready\n"));
const reader = Deno.stdin.readable.getReader();
await reader.read(); // the "go" line (or EOF)
reader.releaseLock();

const stats = await runCounterWriters(store, key, {
  writers: Number(writers),
  rounds: Number(rounds),
  idPrefix: `${id}.`,
});
await Deno.stdout.write(encoder.encode(`${JSON.stringify(stats)}\n`));
