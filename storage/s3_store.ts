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
export type { S3StoreOptions } from "./s3_options.ts";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
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
import { runAttempt } from "./s3_attempt.ts";
import { classify, describe, statusOf } from "./s3_failure.ts";
import { type DeleteOutcome, S3DeleteBatches } from "./s3_deletes.ts";
import {
  clientConfig,
  requestSettings,
  type S3RequestSettings,
  type S3StoreOptions,
} from "./s3_options.ts";
import { normalizePrefix, unquoteEtag } from "./s3_url.ts";
import type { ListOptions, ObjectStore, PutOptions, ReadOptions, StoredObject } from "./types.ts";

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
  #settings: S3RequestSettings;
  #deletes: S3DeleteBatches;

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
    this.#settings = requestSettings(options);
    this.#deletes = new S3DeleteBatches({
      deleteOne: (key) => this.#deleteOne(key),
      deleteMany: (keys) => this.#deleteMany(keys),
      isNotImplemented: (error) =>
        error instanceof InvalidError && statusOf((error as { cause?: unknown }).cause) === 501,
      url: (key) => this.#url(key),
    });
    if (options.client !== undefined) {
      this.#client = options.client as S3Client;
      this.#ownsClient = false;
    } else {
      this.#client = new S3Client(clientConfig(options));
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
    await this.#deletes.delete(key);
  }

  /** One `DeleteObject`, retried like every request; a missing key is fine. */
  async #deleteOne(key: string): Promise<void> {
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

  /** One `DeleteObjects` of `keys` (quiet: only failures come back), retried like every request. */
  async #deleteMany(keys: string[]): Promise<DeleteOutcome[]> {
    const prefix = this.#keyPrefix;
    const label = `${keys[0]} and ${keys.length - 1} more`;
    return await this.#retrying("DeleteObjects", label, undefined, async (abortSignal) => {
      const output = await this.#client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.map((key) => ({ Key: prefix + key })), Quiet: true },
        }),
        { abortSignal },
      );
      return (output.Errors ?? []).map((error) => ({
        key: (error.Key ?? "").slice(prefix.length),
        ...(error.Code === undefined ? {} : { code: error.Code }),
        ...(error.Message === undefined ? {} : { message: error.Message }),
      }));
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
        ? this.#settings.pageSize
        : Math.min(this.#settings.pageSize, limit - keys.length);
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
        output = await runAttempt(
          this.#settings.timeoutMs,
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
            if (attempt >= this.#settings.maxAttempts) {
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
        return await runAttempt(this.#settings.timeoutMs, signal, run);
      } catch (error) {
        if (error instanceof OsqueueError) throw error;
        const failure = classify(error, signal?.aborted === true);
        if (failure === "aborted") throw signal?.reason ?? error;
        const detail = `S3 ${operation} ${this.#url(key)}: ${describe(error)}`;
        // (A 409/412 here, e.g. an unconditional put racing a conditional one, was not processed.)
        if (failure === "rejected" || failure === "missing") {
          throw new InvalidError(detail, { cause: error });
        }
        if (attempt >= this.#settings.maxAttempts) {
          throw new UnavailableError(`${detail} (after ${attempt} attempts)`, { cause: error });
        }
        await this.#backoff(attempt, signal);
      }
    }
  }

  #backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const ceiling = Math.min(
      this.#settings.maxDelayMs,
      this.#settings.baseDelayMs * 2 ** (attempt - 1),
    );
    return this.#settings.sleep(
      Math.round(ceiling * (0.5 + this.#settings.random() * 0.5)),
      signal,
    );
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
