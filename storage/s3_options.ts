/**
 * The options of {@linkcode S3Store} and the client shapes it accepts, and
 * how they become request settings and an SDK client configuration.
 *
 * @module
 */
import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { InvalidError } from "../errors.ts";
import { defaultSleep } from "./s3_attempt.ts";
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

/** How an {@linkcode S3Store} times, retries and pages its requests (its options with defaults, checked). */
export interface S3RequestSettings {
  /** One attempt's time limit, ms. */
  timeoutMs: number;
  /** Attempts per request. */
  maxAttempts: number;
  /** The first retry's delay ceiling, ms (doubles per attempt). */
  baseDelayMs: number;
  /** The largest retry delay, ms. */
  maxDelayMs: number;
  /** Keys asked for per list page (at most 1,000). */
  pageSize: number;
  /** Waits between attempts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Jitter source. */
  random: () => number;
}

/** The request settings of `options`; `InvalidError` for a value that is not positive. */
export function requestSettings(options: S3StoreOptions): S3RequestSettings {
  return {
    timeoutMs: positive(options.requestTimeoutMs ?? 10_000, "requestTimeoutMs"),
    maxAttempts: Math.floor(positive(options.maxAttempts ?? 4, "maxAttempts")),
    baseDelayMs: options.retryBaseDelayMs ?? 50,
    maxDelayMs: options.retryMaxDelayMs ?? 2_000,
    pageSize: Math.min(1000, Math.floor(positive(options.listPageSize ?? 1000, "listPageSize"))),
    sleep: options.sleep ?? defaultSleep,
    random: options.random ?? Math.random,
  };
}

/**
 * The SDK client configuration for `options`: the SDK's own retries off
 * (the store retries only what was not processed) and checksums only where
 * an operation requires them.
 */
export function clientConfig(options: S3StoreOptions): S3ClientConfig {
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
  return config;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidError(`S3Store: ${name} must be a positive number`);
  }
  return value;
}
