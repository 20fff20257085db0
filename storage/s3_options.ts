/**
 * The options of {@linkcode S3Store} and the client shapes it accepts.
 *
 * @module
 */
/** Static credentials for {@linkcode S3StoreOptions.credentials}. */
export interface S3Credentials {
  /** The access key id (e.g. `AKIA…`, or `test` for the local radosgw). */
  accessKeyId: string;
  /** The secret access key. */
  secretAccessKey: string;
  /** The session token of temporary credentials. */
  sessionToken?: string;
}

/**
 * The parts of an `S3Client` (from `@aws-sdk/client-s3`) that {@linkcode S3Store} uses.
 * Pass a real `S3Client` built with `maxAttempts: 1`.
 */
export interface S3ClientLike {
  /** Sends one SDK command. */
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
  /** The resolved configuration; `maxAttempts()` must resolve to 1. */
  readonly config: { maxAttempts(): Promise<number> };
  /** Releases the client's connections. */
  destroy(): void;
}

/**
 * An HTTP handler for the SDK's `requestHandler` option, such as a
 * `FetchHttpHandler` from `@smithy/fetch-http-handler` (tests inject fakes).
 */
export interface S3RequestHandler {
  /** Sends one HTTP request; resolves with the SDK's `{response}`. */
  handle(request: unknown, options?: { abortSignal?: AbortSignal }): Promise<{ response: unknown }>;
}

/** Options of {@linkcode S3Store}. */
export interface S3StoreOptions {
  /** The bucket; it must exist. */
  bucket: string;
  /** Keys are stored under `prefix/` (no leading or trailing `/` needed); default: the bucket root. */
  prefix?: string;
  /** A custom endpoint such as `http://127.0.0.1:7480`; default: AWS. */
  endpoint?: string;
  /** The region; default: the SDK's chain (`AWS_REGION`, config files). */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by most S3-compatible servers. Default false. */
  forcePathStyle?: boolean;
  /** Static credentials; default: the SDK's chain (`AWS_ACCESS_KEY_ID`, profiles, instance roles…). */
  credentials?: S3Credentials;
  /** Time limit of one request attempt, body included, in milliseconds. Default 10 000. */
  requestTimeoutMs?: number;
  /** Attempts for requests that are safe to retry (at least 1). Default 4. */
  maxAttempts?: number;
  /** First retry delay in milliseconds; it doubles per attempt, with jitter. Default 50. */
  retryBaseDelayMs?: number;
  /** Upper bound of one retry delay in milliseconds. Default 2 000. */
  retryMaxDelayMs?: number;
  /** Keys per `ListObjectsV2` page (1–1000). Default 1000. */
  listPageSize?: number;
  /**
   * A ready client (tests, custom setups). It must be built with `maxAttempts: 1`, because this
   * store does its own retries and must never retry a conditional put blindly; the first request
   * fails with `InvalidError` otherwise. Connection options above are then ignored.
   */
  client?: S3ClientLike;
  /** The SDK's HTTP handler for the client this store builds (tests inject a fake one). */
  requestHandler?: S3RequestHandler;
  /** Waits between retries; default `setTimeout`. Tests pass an instant one. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Source of retry jitter in [0, 1); default `Math.random`. */
  random?: () => number;
}
