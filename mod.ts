/**
 * osqueue: a durable job queue whose state lives on object storage (S3,
 * S3-compatible stores, a local directory) as a head object, one log object
 * per commit and background checkpoints, changed only by compare-and-swap
 * writes.
 *
 * This entry point gathers the typed errors, the store contract with the
 * memory and directory stores, the protocol, the pure queue model, the broker
 * with the embedded `Queue<T>`, the network server and the worker client. It
 * does not load the AWS SDK: the S3 store is in `@osqueue/osqueue/s3`. A
 * browser or edge worker imports only `@osqueue/osqueue/worker`; test tools
 * are in `@osqueue/osqueue/testing`.
 *
 * @example An embedded queue on a local directory
 * ```ts
 * import { DirectoryStore, Queue } from "@osqueue/osqueue";
 *
 * const queue = await Queue.open<{ to: string }>({
 *   store: new DirectoryStore({ root: await Deno.makeTempDir() }),
 * });
 * await queue.push({ to: "a@example.com" });
 * const [job] = await queue.claim();
 * await queue.complete(job, { sent: true });
 * await queue.close();
 * ```
 *
 * @example A broker server that workers connect to
 * ```ts ignore
 * import { Broker, DirectoryStore, serveBroker } from "@osqueue/osqueue";
 *
 * const broker = new Broker({ store: new DirectoryStore({ root: "./data" }) });
 * await broker.start();
 * serveBroker({ backend: broker, port: 8080, token: Deno.env.get("OSQUEUE_TOKEN") });
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./clock.ts";
export * from "./storage/mod.ts";
export * from "./protocol/mod.ts";
export * from "./core/mod.ts";
export * from "./broker/mod.ts";
export * from "./server/mod.ts";
export * from "./worker/mod.ts";
export * from "./worker/tcp_websocket.ts";
