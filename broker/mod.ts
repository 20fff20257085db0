/**
 * The broker: the single-writer actor over the queue state, and the embedded
 * `Queue<T>`.
 *
 * @example A broker on a directory, used in process
 * ```ts
 * import { Broker } from "@osqueue/osqueue/broker";
 * import { DirectoryStore } from "@osqueue/osqueue/storage";
 *
 * const broker = new Broker({ store: new DirectoryStore({ root: await Deno.makeTempDir() }) });
 * await broker.start();
 * const { jobs } = await broker.request({ op: "push", jobs: [{ type: "t", payload: 1 }] });
 * const { jobs: claimed } = await broker.request({ op: "claim", workerId: "w1" });
 * console.log(jobs[0].id === claimed[0].id); // true
 * await broker.stop();
 * ```
 *
 * @module
 */
export * from "./broker.ts";
export * from "./queue.ts";
export * from "./read_state.ts";
export * from "./archive_reader.ts";
export type { ArchiveRef, Head, Manifest } from "./head.ts";
