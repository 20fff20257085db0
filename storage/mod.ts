/**
 * The store contract ({@linkcode ObjectStore}) and the stores that need no
 * extra dependency: {@linkcode MemoryStore} and {@linkcode DirectoryStore}.
 * The S3 store is in `@osqueue/osqueue/s3` (it loads the AWS SDK), the
 * fault-injecting test store in `@osqueue/osqueue/testing`.
 *
 * @example Compare-and-swap on a directory
 * ```ts
 * import { DirectoryStore } from "@osqueue/osqueue/storage";
 *
 * const store = new DirectoryStore({ root: await Deno.makeTempDir() });
 * const etag = await store.put("counter", new TextEncoder().encode("1"), {
 *   condition: { ifNoneMatch: "*" },
 * });
 * await store.put("counter", new TextEncoder().encode("2"), { condition: { ifMatch: etag } });
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./keys.ts";
export { MemoryStore } from "./memory_store.ts";
export * from "./directory_store.ts";
export * from "./instrumented_store.ts";
