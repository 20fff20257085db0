/**
 * A `fetch` handler for `deno serve` and Deno Deploy: the broker's WebSocket
 * RPC and REST API (as `serveBroker` serves them) in front of a
 * {@linkcode ServerlessBroker}, so that any number of instances behind one URL
 * serve the same queue, with the state in an S3-compatible bucket configured
 * from the environment.
 *
 * @module
 */
import { InvalidError } from "../errors.ts";
import type { Clock } from "../clock.ts";
import type { ObjectStore } from "../storage/types.ts";
import { ServerlessBroker, type ServerlessBrokerOptions } from "../broker/serverless.ts";
import { createBrokerHandler } from "../server/server.ts";
import { errorResponse } from "../server/rest.ts";
import { parseS3Url, S3Store } from "../s3/mod.ts";

/** Reads one environment variable (default `Deno.env.get`). */
export type EnvReader = (name: string) => string | undefined;

/** Options of {@linkcode createDeployHandler}. */
export interface DeployHandlerOptions {
  /** The store; default: the S3 store {@linkcode storeFromEnv} builds. */
  store?: ObjectStore;
  /** Where configuration comes from (default `Deno.env.get`). */
  env?: EnvReader;
  /** Shared secret of the API (default `$OSQUEUE_TOKEN`; none when unset). */
  token?: string;
  /** Broker options (default: from the environment, see {@linkcode brokerOptionsFromEnv}). */
  broker?: Partial<Omit<ServerlessBrokerOptions, "store">>;
  /** Receives the broker's events and the server's log lines (default: silent). */
  log?: (line: string) => void;
}

/** What {@linkcode createDeployHandler} returns: `export default` it from a `deno serve` module. */
export interface DeployHandler {
  /** Handles one request; the broker starts on the first one (and again after a failed start). */
  fetch(request: Request): Promise<Response>;
  /** The serverless broker behind the handler. */
  readonly broker: ServerlessBroker;
  /** Closes the sockets and stops the broker (tests; `deno serve` needs none of it). */
  close(): Promise<void>;
}

/**
 * The S3 store the environment describes:
 *
 * - `OSQUEUE_STORAGE` (required): `s3://bucket/prefix`;
 * - `OSQUEUE_S3_ENDPOINT`: an S3-compatible endpoint (R2, MinIO, radosgw…);
 * - `OSQUEUE_S3_PATH_STYLE`: `true`/`false` (default: `true` when an endpoint is set);
 * - `AWS_REGION` (default `us-east-1`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`.
 */
export function storeFromEnv(env: EnvReader = (name) => Deno.env.get(name)): S3Store {
  const url = env("OSQUEUE_STORAGE");
  if (url === undefined || url === "") {
    throw new InvalidError("OSQUEUE_STORAGE is not set: expected s3://bucket/prefix");
  }
  const endpoint = env("OSQUEUE_S3_ENDPOINT") || undefined;
  const pathStyle = env("OSQUEUE_S3_PATH_STYLE");
  const accessKeyId = env("AWS_ACCESS_KEY_ID");
  const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
  return new S3Store({
    ...parseS3Url(url),
    ...(endpoint === undefined ? {} : { endpoint }),
    region: env("AWS_REGION") || "us-east-1",
    forcePathStyle: pathStyle === undefined || pathStyle === ""
      ? endpoint !== undefined
      : pathStyle === "true",
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  });
}

/**
 * Broker options from the environment: `OSQUEUE_POLL_INTERVAL_MS` (default
 * 1000), `OSQUEUE_MIN_COMMIT_INTERVAL_MS` (default 0),
 * `OSQUEUE_HEARTBEAT_TIMEOUT_MS` (default 30 000), `OSQUEUE_HEARTBEAT_CHECK_MS`
 * (how often expired leases are looked for, default 5 000), `OSQUEUE_INSTANCE_ID`
 * (default: a random id).
 */
export function brokerOptionsFromEnv(
  env: EnvReader = (name) => Deno.env.get(name),
): Partial<ServerlessBrokerOptions> {
  const number = (name: string): number | undefined => {
    const raw = env(name);
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidError(
        `${name} must be a number of milliseconds, got ${JSON.stringify(raw)}`,
      );
    }
    return value;
  };
  const options: Partial<ServerlessBrokerOptions> = {};
  const poll = number("OSQUEUE_POLL_INTERVAL_MS");
  if (poll !== undefined) options.pollIntervalMs = poll;
  const minCommit = number("OSQUEUE_MIN_COMMIT_INTERVAL_MS");
  if (minCommit !== undefined) options.minCommitIntervalMs = minCommit;
  const heartbeat = number("OSQUEUE_HEARTBEAT_TIMEOUT_MS");
  if (heartbeat !== undefined) options.heartbeatTimeoutMs = heartbeat;
  const check = number("OSQUEUE_HEARTBEAT_CHECK_MS");
  if (check !== undefined) options.heartbeatCheckMs = check;
  const id = env("OSQUEUE_INSTANCE_ID");
  if (id) options.identity = { id };
  return options;
}

/**
 * Timers that do not keep the process alive: when `deno serve` stops its HTTP
 * server (SIGTERM), the broker's poll timer does not hold the process.
 */
const unrefClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const id = setTimeout(fn, ms);
    Deno.unrefTimer(id);
    return id;
  },
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** Builds the `fetch` handler; the broker starts (loads the queue) on the first request. */
export function createDeployHandler(options: DeployHandlerOptions = {}): DeployHandler {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const log = options.log;
  const store = options.store ?? storeFromEnv(env);
  const broker = new ServerlessBroker({
    clock: unrefClock,
    ...brokerOptionsFromEnv(env),
    ...options.broker,
    store,
    ...(log === undefined ? {} : { log: (event) => log(JSON.stringify(event)) }),
  });
  const token = options.token ?? (env("OSQUEUE_TOKEN") || undefined);
  const handler = createBrokerHandler({
    backend: broker,
    ...(token === undefined ? {} : { token }),
    ...(log === undefined ? {} : { log }),
  });
  return {
    async fetch(request: Request): Promise<Response> {
      try {
        await broker.start();
      } catch (error) {
        // e.g. the bucket is unreachable: answer, and try again on the next request.
        log?.(`osqueue: could not start: ${String(error)}`);
        return errorResponse(error);
      }
      return await handler.fetch(request);
    },
    broker,
    async close(): Promise<void> {
      await handler.close();
      await broker.stop();
      if (options.store === undefined) (store as S3Store).close();
    },
  };
}
