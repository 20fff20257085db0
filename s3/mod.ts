/**
 * The S3 store: an {@linkcode ObjectStore} on Amazon S3 or an S3-compatible
 * server (Cloudflare R2, MinIO, Ceph radosgw…), built on `@aws-sdk/client-s3`.
 * It has its own entry point so that the rest of osqueue does not load the AWS
 * SDK. See {@linkcode S3Store} for how server answers become typed errors.
 *
 * Permissions: `--allow-net` (the endpoint), `--allow-env` (the SDK reads
 * `AWS_*` variables), `--allow-read` (the SDK looks for `~/.aws` config files)
 * and `--allow-sys=osRelease` (the SDK's user agent). A missing permission is
 * reported at once as an `InvalidError` naming it.
 *
 * @example A broker on S3
 * ```ts
 * import { Broker } from "@osqueue/osqueue/broker";
 * import { parseS3Url, S3Store } from "@osqueue/osqueue/s3";
 *
 * const store = new S3Store({
 *   ...parseS3Url("s3://my-bucket/queues/emails"),
 *   region: "eu-west-1",
 * });
 * const broker = new Broker({ store, identity: { id: "broker-1" } });
 * await broker.start();
 * ```
 *
 * @module
 */
export type { ObjectStore } from "../storage/types.ts";
export { S3Store } from "../storage/s3_store.ts";
export type {
  S3ClientLike,
  S3Credentials,
  S3RequestHandler,
  S3StoreOptions,
} from "../storage/s3_options.ts";
export { parseS3Url, type S3Location } from "../storage/s3_url.ts";
