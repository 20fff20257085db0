/**
 * The CLI broker (`cli/main.ts broker …`, unchanged) with a counter on its
 * store, for the depth benchmark: every `put`, `get`, `delete` and `list` of
 * {@linkcode DirectoryStore} and {@linkcode S3Store} in this process is
 * counted with the bytes it moved (put bodies, get bodies). The broker cannot
 * be measured that exactly from outside (`/proc/<pid>/io` counts pages, or
 * every socket write), and the broker's own metrics have no byte counter.
 *
 * ```sh
 * deno run -A bench/counting_broker.ts broker --data ./data --listen 127.0.0.1:0 --quiet
 * kill -USR1 <pid>   # prints: osqueue-bench-store {"seq":1,"puts":…,"putBytes":…}
 * ```
 *
 * On `SIGUSR1` it prints one line `osqueue-bench-store <json>` (a
 * {@linkcode StoreCounters} with a growing `seq`) to stdout; everything else
 * is the CLI's own behaviour and output.
 *
 * @module
 */
import { main } from "../cli/main.ts";
import { DirectoryStore } from "../storage/directory_store.ts";
import { S3Store } from "../storage/s3_store.ts";
import type { ListOptions, PutOptions, ReadOptions, StoredObject } from "../storage/types.ts";

/** What the store of the broker process did since the process started. */
export interface StoreCounters {
  /** Increases with every report, so that a reader can tell a fresh report from an old one. */
  seq: number;
  /** Successful puts. */
  puts: number;
  /** Bytes of the bodies of those puts. */
  putBytes: number;
  /** Puts that failed (conflicts included); their bodies are not counted. */
  failedPuts: number;
  /** Gets that found an object. */
  gets: number;
  /** Bytes of the bodies read. */
  getBytes: number;
  /** Deletes. */
  deletes: number;
  /** Lists. */
  lists: number;
}

/** The prefix of the report line on stdout. */
export const REPORT_PREFIX = "osqueue-bench-store ";

const counters: StoreCounters = {
  seq: 0,
  puts: 0,
  putBytes: 0,
  failedPuts: 0,
  gets: 0,
  getBytes: 0,
  deletes: 0,
  lists: 0,
};

type StoreMethods = {
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<string>;
  get(key: string, options?: ReadOptions): Promise<StoredObject | null>;
  delete(key: string): Promise<void>;
  list(prefix: string, options?: ListOptions): Promise<string[]>;
};

/** Wraps the store methods of `prototype` with the counters. */
function count(prototype: StoreMethods): void {
  const { put, get, delete: remove, list } = prototype;
  prototype.put = async function (this: StoreMethods, key, body, options) {
    try {
      const etag = await put.call(this, key, body, options);
      counters.puts++;
      counters.putBytes += body.length;
      return etag;
    } catch (error) {
      counters.failedPuts++;
      throw error;
    }
  };
  prototype.get = async function (this: StoreMethods, key, options) {
    const found = await get.call(this, key, options);
    if (found !== null) {
      counters.gets++;
      counters.getBytes += found.body.length;
    }
    return found;
  };
  prototype.delete = async function (this: StoreMethods, key) {
    await remove.call(this, key);
    counters.deletes++;
  };
  prototype.list = async function (this: StoreMethods, prefix, options) {
    const keys = await list.call(this, prefix, options);
    counters.lists++;
    return keys;
  };
}

if (import.meta.main) {
  count(DirectoryStore.prototype as unknown as StoreMethods);
  count(S3Store.prototype as unknown as StoreMethods);
  Deno.addSignalListener("SIGUSR1", () => {
    counters.seq++;
    console.log(REPORT_PREFIX + JSON.stringify(counters));
  });
  Deno.exit(await main(Deno.args));
}
