/**
 * The stores the benchmarks run against: memory, a temporary directory and,
 * when `OSQUEUE_S3_ENDPOINT` is set, S3 (the local radosgw of
 * `scripts/rgw_start.sh`). Each opened store is private to one run (a fresh
 * directory or a fresh S3 prefix) and removed by `cleanup`.
 *
 * S3 settings come from the same environment as `tests/s3_store_test.ts`:
 * `OSQUEUE_S3_ENDPOINT`, `OSQUEUE_S3_BUCKET` (default `osqueue-test`, created
 * when missing), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`
 * (default `us-east-1`); path-style addressing.
 *
 * @module
 */
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { DirectoryStore } from "../storage/directory_store.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { S3Store } from "../storage/s3_store.ts";
import type { ObjectStore } from "../storage/types.ts";

/** The backends a suite can name. */
export type BackendName = "memory" | "directory" | "s3";

/** An opened store and how to get rid of it. */
export interface OpenedStore {
  /** The store. */
  store: ObjectStore;
  /** Deletes what the run wrote and releases clients. */
  cleanup(): Promise<void>;
}

/** Where S3 is, read from the environment; `undefined` when `OSQUEUE_S3_ENDPOINT` is not set. */
export interface S3Settings {
  /** e.g. `http://127.0.0.1:7480`. */
  endpoint: string;
  /** The bucket (created when missing). */
  bucket: string;
  /** The region to sign for. */
  region: string;
}

/** The S3 settings of the environment, or `undefined` when S3 is not configured. */
export function s3Settings(env: (name: string) => string | undefined): S3Settings | undefined {
  const endpoint = env("OSQUEUE_S3_ENDPOINT") ?? "";
  if (endpoint === "") return undefined;
  return {
    endpoint,
    bucket: env("OSQUEUE_S3_BUCKET") ?? "osqueue-test",
    region: env("AWS_REGION") ?? "us-east-1",
  };
}

/** Options of {@linkcode openStore}. */
export interface OpenStoreOptions {
  /** S3 settings; required for `s3`. */
  s3?: S3Settings;
  /** Names the run (a directory name or an S3 prefix piece). */
  label: string;
}

const bucketsReady = new Map<string, Promise<void>>();

/** Creates the bucket once per process when it is missing. */
function ensureBucket(settings: S3Settings): Promise<void> {
  const key = `${settings.endpoint} ${settings.bucket}`;
  let ready = bucketsReady.get(key);
  if (ready === undefined) {
    ready = (async () => {
      const client = new S3Client({
        endpoint: settings.endpoint,
        region: settings.region,
        forcePathStyle: true,
        maxAttempts: 3,
      });
      try {
        await client.send(new HeadBucketCommand({ Bucket: settings.bucket }));
      } catch {
        try {
          await client.send(new CreateBucketCommand({ Bucket: settings.bucket }));
        } catch (error) {
          const name = (error as { name?: string }).name;
          if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw error;
        }
      } finally {
        client.destroy();
      }
    })();
    bucketsReady.set(key, ready);
  }
  return ready;
}

/** Opens a fresh, private store of backend `name`. */
export async function openStore(
  name: BackendName,
  options: OpenStoreOptions,
): Promise<OpenedStore> {
  const id = `${options.label}-${crypto.randomUUID().slice(0, 8)}`;
  switch (name) {
    case "memory":
      return { store: new MemoryStore(), cleanup: () => Promise.resolve() };
    case "directory": {
      const root = await Deno.makeTempDir({ prefix: `osqueue-bench-${options.label}-` });
      return {
        store: new DirectoryStore({ root }),
        cleanup: () => Deno.remove(root, { recursive: true }).catch(() => {}),
      };
    }
    case "s3": {
      const settings = options.s3;
      if (settings === undefined) throw new Error("s3 backend: OSQUEUE_S3_ENDPOINT is not set");
      await ensureBucket(settings);
      const store = new S3Store({
        bucket: settings.bucket,
        prefix: `bench/${id}`,
        endpoint: settings.endpoint,
        region: settings.region,
        forcePathStyle: true,
      });
      return {
        store,
        cleanup: async () => {
          try {
            const keys = await store.list("");
            for (let i = 0; i < keys.length; i += 16) {
              await Promise.all(keys.slice(i, i + 16).map((key) => store.delete(key)));
            }
          } finally {
            store.close();
          }
        },
      };
    }
  }
}
