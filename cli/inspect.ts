/**
 * `osqueue inspect`: reads the queue state straight from storage, without a
 * broker, and prints its layout, leader and counters (and the jobs).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readQueueState } from "@osqueue/osqueue/broker";
import { jobCount, listJobs, queueStats } from "@osqueue/osqueue/core";
import { openStore, STORAGE_OPTIONS } from "./store_flags.ts";

/** The help of `osqueue inspect`. */
export const INSPECT_HELP =
  `osqueue inspect — read the queue state straight from storage (no broker needed)

Options:
  --data DIR | --storage s3://bucket/prefix  (and the --s3-* options of "broker")
  --jobs             also list every job in the state, one JSON line each`;

/** Runs `osqueue inspect` with its arguments; resolves with the exit code. */
export async function inspectCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...STORAGE_OPTIONS, jobs: { type: "boolean" }, key: { type: "string" } },
  });
  if (values.help) {
    console.log(INSPECT_HELP);
    return 0;
  }
  const { store, prefix } = await openStore(values);
  const snapshot = await readQueueState({ store, prefix, headKey: values.key ?? "queue.json" });
  if (snapshot === null) {
    console.error(
      `osqueue inspect: no queue state at ${prefix}${
        values.key ?? "queue.json"
      } in ${store.description}`,
    );
    return 1;
  }
  const { state, head, manifest } = snapshot;
  console.log(JSON.stringify(
    {
      key: snapshot.key,
      store: store.description,
      layout: snapshot.version === 1 ? { version: 1 } : {
        version: 2,
        epoch: head?.epoch,
        checkpoint: head?.checkpoint ?? null,
        segments: manifest?.segments.length ?? 0,
        logTail: snapshot.tail,
      },
      leader: head === undefined ? state.leader : head.leader,
      jobs: jobCount(state),
      stats: queueStats(state, Date.now()),
    },
    null,
    2,
  ));
  if (values.jobs) { for (const job of listJobs(state)) console.log(JSON.stringify(job)); }
  return 0;
}
