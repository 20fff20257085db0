/**
 * The storage flags shared by `osqueue broker` and `osqueue inspect`
 * (`--data DIR` or `--storage s3://bucket/prefix` and the `--s3-*` options),
 * and opening the store they name.
 *
 * @module
 */
import { InvalidError } from "@osqueue/osqueue/worker";
import type { ObjectStore } from "@osqueue/osqueue/storage";
import { env } from "./rest_client.ts";

/** The `parseArgs` options of the storage flags (and `--help`). */
export const STORAGE_OPTIONS = {
  data: { type: "string" },
  storage: { type: "string" },
  "s3-endpoint": { type: "string" },
  "s3-region": { type: "string" },
  "s3-path-style": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The storage flags as `parseArgs` returns them. */
export type StorageFlags = {
  data?: string;
  storage?: string;
  "s3-endpoint"?: string;
  "s3-region"?: string;
  "s3-path-style"?: boolean;
};

/**
 * Opens the store named by `--data` or `--storage` (not both); returns it
 * with the key prefix to use. The storage modules (and the AWS SDK, which
 * needs more permissions) are loaded only here, and the S3 store only when
 * asked for, so `--help` and the client commands need no env access.
 */
export async function openStore(
  flags: StorageFlags,
): Promise<{ store: ObjectStore; prefix: string }> {
  if (flags.storage !== undefined) {
    if (flags.data !== undefined) {
      throw Object.assign(
        new InvalidError("give --data DIR or --storage s3://bucket/prefix, not both"),
        { usage: true },
      );
    }
    const { parseS3Url, S3Store } = await import("@osqueue/osqueue/s3");
    const { bucket, prefix } = parseS3Url(flags.storage);
    const endpoint = flags["s3-endpoint"] ?? env("OSQUEUE_S3_ENDPOINT");
    const store = new S3Store({
      bucket,
      endpoint,
      region: flags["s3-region"] ?? env("AWS_REGION") ?? "us-east-1",
      forcePathStyle: flags["s3-path-style"] ?? endpoint !== undefined,
    });
    return { store, prefix: prefix === "" || prefix.endsWith("/") ? prefix : prefix + "/" };
  }
  const { DirectoryStore } = await import("@osqueue/osqueue/storage");
  return {
    store: new DirectoryStore({ root: flags.data ?? "./data", spareFiles: 256 }),
    prefix: "",
  };
}
