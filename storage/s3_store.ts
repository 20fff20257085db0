/**
 * An {@linkcode ObjectStore} on S3 or an S3-compatible server (tested against
 * AWS's documented behaviour and Ceph radosgw), built on `@aws-sdk/client-s3`.
 *
 * Compare-and-swap is a conditional `PutObject`: `If-Match: <etag>` to replace
 * a version, `If-None-Match: *` to create. How server answers are reported:
 *
 * | answer                                                   | conditional put            | get / list / delete / unconditional put |
 * | -------------------------------------------------------- | -------------------------- | --------------------------------------- |
 * | 412, 409 (`ConditionalRequestConflict`)                  | `ConflictError`            | —                                       |
 * | 404 `NoSuchKey` (AWS's answer to `If-Match` on a missing key; RGW says 412) | `ConflictError` | `get` → `null`, `delete` → ok  |
 * | 429, 503 `SlowDown`, 400 `RequestTimeout`, refused connection | retried, then `UnavailableError` | retried, then `UnavailableError` |
 * | other 5xx, timeout, reset or lost connection, abort      | `AmbiguousWriteError`      | retried, then `UnavailableError`        |
 * | other 4xx (bad credentials, missing bucket), 501         | `InvalidError`             | `InvalidError`                          |
 *
 * Conditional puts are never retried blindly: after a lost reply a retry can
 * meet the caller's own write and answer 412, which would turn a success into
 * a "conflict". So the SDK's retries are off (`maxAttempts: 1`) and this class
 * retries only answers that mean "not processed".
 *
 * RGW answers the loser of a concurrent `If-Match` race with HTTP 500 (op
 * status -125, "canceled") rather than 412. That is almost always a conflict,
 * but a 500 from AWS (or a proxy) may come after the write landed. Reporting
 * it as a conflict would make the caller re-apply its change on top of a state
 * that may already hold it (e.g. push a job twice); reporting it as ambiguous
 * makes the caller re-read and look for its own write, which is right in both
 * cases. So every 5xx on a conditional put is an `AmbiguousWriteError`.
 *
 * S3 ETags of single-part uploads are the MD5 of the body, so writing the same
 * bytes again yields the same ETag (an A→B→A history lets a stale `If-Match`
 * succeed). Callers that compare-and-swap must make every version's bytes
 * unique; osqueue's state carries a commit counter for this.
 *
 * `If-Match` is sent without quotes: RGW (and DigitalOcean Spaces) compare the
 * header's bytes with the unquoted ETag, and AWS S3 accepts both forms. ETags
 * returned by this store never carry quotes.
 *
 * @module
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import {
  AmbiguousWriteError,
  ConflictError,
  InvalidError,
  OsqueueError,
  UnavailableError,
} from "../errors.ts";
import { validateKey, validateListWindow, validatePrefix } from "./keys.ts";
import { compareKeys } from "./memory_store.ts";
import type { ListOptions, ObjectStore, PutOptions, ReadOptions, StoredObject } from "./types.ts";

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

/** The parts of an `s3://bucket/prefix` URL. */
export interface S3Location {
  /** The bucket name. */
  bucket: string;
  /** The key prefix without leading or trailing `/`; empty for the bucket root. */
  prefix: string;
}

/**
 * Splits `s3://bucket/some/prefix` into `{bucket, prefix}`; throws
 * {@linkcode InvalidError} for anything else.
 */
export function parseS3Url(url: string): S3Location {
  const match = /^s3:\/\/([^/?#]+)(?:\/(.*))?$/.exec(url);
  if (match === null) {
    throw new InvalidError(`invalid S3 URL ${JSON.stringify(url)}: expected s3://bucket/prefix`);
  }
  const bucket = match[1];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(bucket)) {
    throw new InvalidError(`invalid S3 URL ${JSON.stringify(url)}: bad bucket name`);
  }
  return { bucket, prefix: normalizePrefix(match[2] ?? "") };
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  if (trimmed !== "") {
    try {
      validateKey(trimmed);
    } catch (error) {
      throw new InvalidError(`invalid S3 prefix ${JSON.stringify(prefix)}`, { cause: error });
    }
  }
  return trimmed;
}

/** Removes the quotes S3 puts around ETags (`"abc"` → `abc`). */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^"+|"+$/g, "");
}

/** How one failed attempt is to be understood. */
type Failure =
  /** 412 or 409: the condition failed, nothing was written. */
  | "conflict"
  /** 404 `NoSuchKey`. */
  | "missing"
  /** The server (or the network) says the request was not processed; retrying is safe. */
  | "not_processed"
  /** The request may or may not have been processed. */
  | "uncertain"
  /** The caller's signal fired. */
  | "aborted"
  /** The request is wrong or the store misconfigured; retrying will not help. */
  | "rejected";

/** Error codes that are rejected before anything could have been written. */
const NOT_PROCESSED_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestThrottled",
  "TooManyRequests",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "RequestTimeout",
]);
/** Socket errors raised before the request reached a server. */
const NOT_CONNECTED_ERRNOS = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);
/** SDK errors raised before anything was sent (configuration). */
const CONFIG_ERROR_NAMES = new Set(["CredentialsProviderError", "TokenProviderError"]);
/** Deno's errors for a missing permission (`--allow-net`, `--allow-sys=osRelease`…): nothing was sent. */
const PERMISSION_ERROR_NAMES = new Set(["NotCapable", "PermissionDenied"]);

/** Marks an attempt that ran out of time. */
class AttemptTimeout extends Error {
  constructor(ms: number) {
    super(`S3 request timed out after ${ms} ms`);
    this.name = "AttemptTimeout";
  }
}

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function statusOf(error: unknown): number | undefined {
  const status = (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

function nameOf(error: unknown): string {
  const name = (error as SdkErrorShape | null)?.name;
  return typeof name === "string" ? name : "";
}

function classify(error: unknown, aborted: boolean): Failure {
  if (error instanceof AttemptTimeout) return "uncertain";
  if (aborted) return "aborted";
  const status = statusOf(error);
  const name = nameOf(error);
  if (PERMISSION_ERROR_NAMES.has(name)) return "rejected";
  if (status !== undefined) {
    if (status === 412) return "conflict";
    if (status === 409) return name === "ConditionalRequestConflict" ? "conflict" : "not_processed";
    if (status === 404 && name === "NoSuchKey") return "missing";
    if (status === 429 || NOT_PROCESSED_CODES.has(name)) return "not_processed";
    if (status === 501) return "rejected";
    if (status >= 500) return "uncertain";
    if (status >= 300) return "rejected";
    // A 2xx that failed to parse: the request was processed.
    return "uncertain";
  }
  const errno = (error as SdkErrorShape | null)?.code;
  if (typeof errno === "string" && NOT_CONNECTED_ERRNOS.has(errno)) return "not_processed";
  if (CONFIG_ERROR_NAMES.has(name)) return "rejected";
  const message = (error as SdkErrorShape | null)?.message;
  if (typeof message === "string" && /region is missing/i.test(message)) return "rejected";
  return "uncertain";
}

function describe(error: unknown): string {
  const status = statusOf(error);
  const name = nameOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as SdkErrorShape | null)?.code;
  if (PERMISSION_ERROR_NAMES.has(name)) return `missing permission: ${message}`;
  const parts = [
    status === undefined ? "" : `HTTP ${status}`,
    name === "" || name === "Error" ? "" : name,
    typeof code === "string" ? code : "",
    message === name || message === "UnknownError" ? "" : message,
  ].filter((part) => part !== "");
  return parts.join(" ");
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * An {@linkcode ObjectStore} on an S3 bucket, under an optional key prefix.
 * See the module documentation for how errors are reported.
 *
 * @example
 * ```ts
 * import { parseS3Url, S3Store } from "@osqueue/osqueue/s3";
 * const store = new S3Store({ ...parseS3Url("s3://my-bucket/queues/emails") });
 * ```
 */
export class S3Store implements ObjectStore {
  /** `s3://bucket/prefix`. */
  readonly description: string;
  /** The bucket this store writes to. */
  readonly bucket: string;
  /** The key prefix (no leading or trailing `/`), empty for the bucket root. */
  readonly prefix: string;

  #client: S3Client;
  #ownsClient: boolean;
  #clientChecked: Promise<void> | undefined;
  #keyPrefix: string;
  #timeoutMs: number;
  #maxAttempts: number;
  #baseDelayMs: number;
  #maxDelayMs: number;
  #pageSize: number;
  #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  #random: () => number;

  /** Builds a store; no request is made until the first operation. */
  constructor(options: S3StoreOptions) {
    if (typeof options.bucket !== "string" || options.bucket === "") {
      throw new InvalidError("S3Store: a bucket is required");
    }
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix ?? "");
    this.#keyPrefix = this.prefix === "" ? "" : `${this.prefix}/`;
    this.description = this.prefix === ""
      ? `s3://${this.bucket}`
      : `s3://${this.bucket}/${this.prefix}`;
    this.#timeoutMs = positive(options.requestTimeoutMs ?? 10_000, "requestTimeoutMs");
    this.#maxAttempts = Math.floor(positive(options.maxAttempts ?? 4, "maxAttempts"));
    this.#baseDelayMs = options.retryBaseDelayMs ?? 50;
    this.#maxDelayMs = options.retryMaxDelayMs ?? 2_000;
    this.#pageSize = Math.min(
      1000,
      Math.floor(positive(options.listPageSize ?? 1000, "listPageSize")),
    );
    this.#sleep = options.sleep ?? defaultSleep;
    this.#random = options.random ?? Math.random;
    if (options.client !== undefined) {
      this.#client = options.client as S3Client;
      this.#ownsClient = false;
    } else {
      const config: S3ClientConfig = {
        maxAttempts: 1,
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      };
      if (options.endpoint !== undefined) config.endpoint = options.endpoint;
      if (options.region !== undefined) config.region = options.region;
      if (options.forcePathStyle !== undefined) config.forcePathStyle = options.forcePathStyle;
      if (options.credentials !== undefined) config.credentials = options.credentials;
      if (options.requestHandler !== undefined) {
        config.requestHandler = options.requestHandler as S3ClientConfig["requestHandler"];
      }
      this.#client = new S3Client(config);
      this.#ownsClient = true;
      this.#clientChecked = Promise.resolve();
    }
  }

  /** Reads an object, or `null` when it does not exist. */
  async get(key: string, options: ReadOptions = {}): Promise<StoredObject | null> {
    validateKey(key);
    const objectKey = this.#keyPrefix + key;
    return await this.#retrying("GetObject", key, options.signal, async (abortSignal) => {
      let output: GetObjectCommandOutput;
      try {
        output = await this.#client.send(
          new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }),
          { abortSignal },
        );
      } catch (error) {
        if (classify(error, false) === "missing") return null;
        throw error;
      }
      const body = output.Body === undefined
        ? new Uint8Array(0)
        : await output.Body.transformToByteArray();
      if (output.ETag === undefined) {
        throw new InvalidError(`S3 GetObject ${this.#url(key)} returned no ETag`);
      }
      return { body, etag: unquoteEtag(output.ETag) };
    });
  }

  /**
   * Writes an object and returns its new ETag (unquoted). With a condition,
   * throws `ConflictError` when it fails and `AmbiguousWriteError` when the
   * outcome is unknown (see the module documentation).
   */
  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<string> {
    validateKey(key);
    if (!(body instanceof Uint8Array)) throw new InvalidError("put: body must be a Uint8Array");
    const condition = options.condition;
    const input: PutObjectCommandInput = {
      Bucket: this.bucket,
      Key: this.#keyPrefix + key,
      Body: body,
      ContentLength: body.byteLength,
    };
    if (condition === undefined) {
      const output = await this.#retrying(
        "PutObject",
        key,
        options.signal,
        (abortSignal) => this.#client.send(new PutObjectCommand(input), { abortSignal }),
      );
      return this.#putEtag(key, output.ETag);
    }
    if ("ifMatch" in condition) {
      if (typeof condition.ifMatch !== "string" || unquoteEtag(condition.ifMatch) === "") {
        throw new InvalidError("put: ifMatch must be a non-empty ETag");
      }
      input.IfMatch = unquoteEtag(condition.ifMatch);
    } else if (condition.ifNoneMatch === "*") {
      input.IfNoneMatch = "*";
    } else {
      throw new InvalidError('put: ifNoneMatch must be "*"');
    }
    return await this.#conditionalPut(key, input, options.signal);
  }

  /** Deletes an object; a missing key is not an error. */
  async delete(key: string): Promise<void> {
    validateKey(key);
    const objectKey = this.#keyPrefix + key;
    await this.#retrying("DeleteObject", key, undefined, async (abortSignal) => {
      try {
        await this.#client.send(
          new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }),
          { abortSignal },
        );
      } catch (error) {
        if (classify(error, false) !== "missing") throw error;
      }
    });
  }

  /**
   * Lists the keys under `prefix` (relative to the store's prefix), sorted in
   * byte order, following continuation tokens. Keys that are not valid store
   * keys (e.g. `dir/` markers written by other tools) are left out.
   * `options.startAfter` becomes `StartAfter`; with `options.limit` the pages
   * ask for no more keys than are still wanted and paging stops once there
   * are enough.
   */
  async list(prefix: string, options: ListOptions = {}): Promise<string[]> {
    validatePrefix(prefix);
    const { startAfter, limit } = validateListWindow(options);
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const wanted = limit === undefined
        ? this.#pageSize
        : Math.min(this.#pageSize, limit - keys.length);
      const page: ListObjectsV2CommandOutput = await this.#retrying(
        "ListObjectsV2",
        prefix,
        options.signal,
        (abortSignal) =>
          this.#client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: this.#keyPrefix + prefix,
              ContinuationToken: token,
              // Ignored by S3 once a continuation token is sent; harmless then.
              StartAfter: startAfter === undefined ? undefined : this.#keyPrefix + startAfter,
              MaxKeys: wanted,
            }),
            { abortSignal },
          ),
      );
      for (const object of page.Contents ?? []) {
        const full = object.Key;
        if (full === undefined || !full.startsWith(this.#keyPrefix)) continue;
        const key = full.slice(this.#keyPrefix.length);
        if (!isValidKey(key)) continue;
        // Guard against a store that ignores StartAfter: the contract is strict.
        if (startAfter !== undefined && compareKeys(key, startAfter) <= 0) continue;
        keys.push(key);
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined && (limit === undefined || keys.length < limit));
    return keys.sort(compareKeys).slice(0, limit);
  }

  /** Releases the HTTP connections of a client this store built (an injected client is left alone). */
  close(): void {
    if (this.#ownsClient) this.#client.destroy();
  }

  async #conditionalPut(
    key: string,
    input: PutObjectCommandInput,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    await this.#checkClient();
    const what = input.IfMatch === undefined ? "If-None-Match: *" : `If-Match: ${input.IfMatch}`;
    for (let attempt = 1;; attempt++) {
      signal?.throwIfAborted();
      let output;
      try {
        output = await this.#attempt(
          signal,
          (abortSignal) => this.#client.send(new PutObjectCommand(input), { abortSignal }),
        );
      } catch (error) {
        const failure = classify(error, signal?.aborted === true);
        const detail = `${this.#url(key)} (${what}): ${describe(error)}`;
        switch (failure) {
          case "conflict":
          case "missing":
            throw new ConflictError(`conditional put of ${detail}`, { cause: error });
          case "rejected":
            throw new InvalidError(`conditional put of ${detail}`, { cause: error });
          case "uncertain":
          case "aborted":
            throw new AmbiguousWriteError(`outcome of conditional put unknown: ${detail}`, {
              cause: error,
            });
          case "not_processed":
            if (attempt >= this.#maxAttempts) {
              throw new UnavailableError(
                `conditional put not processed after ${attempt} attempts: ${detail}`,
                { cause: error },
              );
            }
            await this.#backoff(attempt, signal);
            continue;
        }
      }
      return this.#putEtag(key, output.ETag);
    }
  }

  /** Runs an idempotent request, retrying whatever is not a definite answer. */
  async #retrying<T>(
    operation: string,
    key: string,
    signal: AbortSignal | undefined,
    run: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    await this.#checkClient();
    for (let attempt = 1;; attempt++) {
      signal?.throwIfAborted();
      try {
        return await this.#attempt(signal, run);
      } catch (error) {
        if (error instanceof OsqueueError) throw error;
        const failure = classify(error, signal?.aborted === true);
        if (failure === "aborted") throw signal?.reason ?? error;
        const detail = `S3 ${operation} ${this.#url(key)}: ${describe(error)}`;
        // (A 409/412 here, e.g. an unconditional put racing a conditional one, was not processed.)
        if (failure === "rejected" || failure === "missing") {
          throw new InvalidError(detail, { cause: error });
        }
        if (attempt >= this.#maxAttempts) {
          throw new UnavailableError(`${detail} (after ${attempt} attempts)`, { cause: error });
        }
        await this.#backoff(attempt, signal);
      }
    }
  }

  /** One attempt under the per-attempt time limit and the caller's signal. */
  async #attempt<T>(
    signal: AbortSignal | undefined,
    run: (abortSignal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const controller = new AbortController();
    const abortSignal = signal === undefined
      ? controller.signal
      : AbortSignal.any([signal, controller.signal]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    // Settles first when time runs out or the caller aborts, whatever the SDK does with the signal.
    const cut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const timeout = new AttemptTimeout(this.#timeoutMs);
        reject(timeout);
        controller.abort(timeout);
      }, this.#timeoutMs);
      if (signal !== undefined) {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }
    });
    const running = run(abortSignal);
    // Whichever loses the race must not surface as an unhandled rejection.
    running.catch(() => {});
    cut.catch(() => {});
    try {
      return await Promise.race([running, cut]);
    } finally {
      clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    }
  }

  #backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const ceiling = Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (attempt - 1));
    return this.#sleep(Math.round(ceiling * (0.5 + this.#random() * 0.5)), signal);
  }

  #putEtag(key: string, etag: string | undefined): string {
    if (etag === undefined || unquoteEtag(etag) === "") {
      // The write landed but its version is unknown: the caller must re-read.
      throw new AmbiguousWriteError(`S3 PutObject ${this.#url(key)} returned no ETag`);
    }
    return unquoteEtag(etag);
  }

  #checkClient(): Promise<void> {
    this.#clientChecked ??= (async () => {
      const attempts = await this.#client.config.maxAttempts();
      if (attempts !== 1) {
        throw new InvalidError(
          `S3Store: the injected S3Client must be built with maxAttempts: 1 (it has ${attempts}); ` +
            "S3Store retries on its own and must never retry a conditional put blindly",
        );
      }
    })();
    return this.#clientChecked;
  }

  #url(key: string): string {
    return `s3://${this.bucket}/${this.#keyPrefix}${key}`;
  }
}

function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidError(`S3Store: ${name} must be a positive number`);
  }
  return value;
}
