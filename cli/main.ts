/**
 * The osqueue command line: `osqueue broker | push | stats | inspect`.
 *
 * ```sh
 * deno run -A jsr:@osqueue/cli broker --listen :8080 --data ./data
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { OsqueueError } from "@osqueue/osqueue";
import { DirectoryStore, type ObjectStore, parseS3Url, S3Store } from "@osqueue/osqueue/storage";
import { Broker } from "@osqueue/osqueue/broker";
import { decodeState, jobCount, listJobs, queueStats } from "@osqueue/osqueue/core";
import { serveBroker } from "@osqueue/osqueue/server";
import { parseDuration, parseListen } from "./args.ts";
import { clientToken, loadBrokerTokens } from "./secrets.ts";

const HELP: Record<string, string> = {
  main: `osqueue — a durable job queue on object storage

Usage: osqueue <command> [options]

Commands:
  broker    run a broker server (WebSocket RPC + REST)
  push      enqueue a job through a broker's REST API
  stats     print a broker's queue counters
  inspect   read the queue state straight from storage

Run "osqueue <command> --help" for a command's options.`,
  broker: `osqueue broker — run a broker server

Options:
  --listen ADDR             [host]:port to listen on (default 127.0.0.1:8080; :8080 = all interfaces)
  --data DIR                keep the queue in a local directory (default ./data)
  --storage URL             or in S3: s3://bucket/prefix
  --s3-endpoint URL         S3-compatible endpoint (R2, MinIO, radosgw); env OSQUEUE_S3_ENDPOINT
  --s3-region REGION        region (default us-east-1); env AWS_REGION
  --s3-path-style           use path-style addressing (needed by most S3-compatible stores)
  --heartbeat-timeout DUR   a lease not heartbeated for this long expires (default 30s)
  --heartbeat-check DUR     how often expired leases are looked for (default 5s)
  --takeover-timeout DUR    a standby takes over after the leader is silent this long (default 15s)
  --min-commit-interval DUR minimum time between state writes (default 0; ~1s for GCS/R2)
  --identity NAME           this broker's id (default HOSTNAME:PORT, so a restarted
                            broker takes over from its own earlier run at once)
  --advertise URL           URL clients are redirected to when this broker leads
                            (default http://<host>:<port>)
  --tokens-file PATH        scoped tokens (JSON: {"tokens": [{token, role, types?, name?}]},
                            role producer | worker | admin); env OSQUEUE_TOKENS_FILE
  --token-file PATH         require this admin token (the file's content); env OSQUEUE_TOKEN
  --token TOKEN             same, but visible in ps: prefer --token-file or OSQUEUE_TOKEN
  --allow-origin ORIGIN     let web pages from ORIGIN (https://app.example.com) use the broker
                            (WebSocket and CORS); repeatable or comma-separated; default none
  --allow-host NAME         on loopback, also answer to this Host name (a proxy's public name;
                            * = any); repeatable or comma-separated
  --quiet                   log only errors and leadership changes
Credentials for S3 come from the standard AWS env vars (AWS_ACCESS_KEY_ID, …).`,
  push: `osqueue push — enqueue a job

Options:
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --type TYPE        job type (required)
  --payload JSON     JSON payload (default null)
  --priority N       higher runs first
  --delay DUR        run no earlier than this from now
  --max-attempts N   attempts before dead-lettering
  --key KEY          idempotency key
  --token-file PATH  bearer token read from a file; env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`,
  stats: `osqueue stats — print a broker's counters

Options:
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --token-file PATH  bearer token read from a file; env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`,
  inspect: `osqueue inspect — read the queue state straight from storage (no broker needed)

Options:
  --data DIR | --storage s3://bucket/prefix  (and the --s3-* options of "broker")
  --jobs             also list every job in the state, one JSON line each`,
};

const STORAGE_OPTIONS = {
  data: { type: "string" },
  storage: { type: "string" },
  "s3-endpoint": { type: "string" },
  "s3-region": { type: "string" },
  "s3-path-style": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs the CLI with `args` (without the program name); resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "broker":
        return await brokerCommand(rest);
      case "push":
        return await pushCommand(rest);
      case "stats":
        return await statsCommand(rest);
      case "inspect":
        return await inspectCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(HELP.main);
        return command === undefined ? 2 : 0;
      default:
        console.error(`osqueue: unknown command "${command}"\n\n${HELP.main}`);
        return 2;
    }
  } catch (error) {
    // An unknown option or a missing option value is a usage error, like a missing --type.
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
      console.error(`osqueue ${command}: ${(error as Error).message}
Run "osqueue ${command} --help" for its options.`);
      return 2;
    }
    const message = error instanceof OsqueueError
      ? `${error.code}: ${error.message}`
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(`osqueue ${command}: ${message}`);
    return 1;
  }
}

type StorageFlags = {
  data?: string;
  storage?: string;
  "s3-endpoint"?: string;
  "s3-region"?: string;
  "s3-path-style"?: boolean;
};

/** Opens the store named by `--data` or `--storage`; returns it with the key prefix to use. */
function openStore(flags: StorageFlags): { store: ObjectStore; prefix: string } {
  if (flags.storage !== undefined) {
    const { bucket, prefix } = parseS3Url(flags.storage);
    const endpoint = flags["s3-endpoint"] ?? Deno.env.get("OSQUEUE_S3_ENDPOINT");
    const store = new S3Store({
      bucket,
      endpoint,
      region: flags["s3-region"] ?? Deno.env.get("AWS_REGION") ?? "us-east-1",
      forcePathStyle: flags["s3-path-style"] ?? endpoint !== undefined,
    });
    return { store, prefix: prefix === "" || prefix.endsWith("/") ? prefix : prefix + "/" };
  }
  return { store: new DirectoryStore({ root: flags.data ?? "./data" }), prefix: "" };
}

async function brokerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...STORAGE_OPTIONS,
      listen: { type: "string", default: "127.0.0.1:8080" },
      "heartbeat-timeout": { type: "string", default: "30s" },
      "heartbeat-check": { type: "string", default: "5s" },
      "takeover-timeout": { type: "string", default: "15s" },
      "min-commit-interval": { type: "string", default: "0" },
      identity: { type: "string" },
      advertise: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      "tokens-file": { type: "string" },
      "allow-origin": { type: "string", multiple: true },
      "allow-host": { type: "string", multiple: true },
      quiet: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return help("broker");
  const listen = parseListen(values.listen);
  const log = (line: string) => console.error(`[osqueue] ${line}`);
  const tokens = await loadBrokerTokens({
    ...(values.token === undefined ? {} : { token: values.token }),
    ...(values["token-file"] === undefined ? {} : { tokenFile: values["token-file"] }),
    ...(values["tokens-file"] === undefined ? {} : { tokensFile: values["tokens-file"] }),
    warn: log,
  });
  const list = (values: string[] | undefined) =>
    (values ?? []).flatMap((text) =>
      text.split(",").map((item) => item.trim()).filter((item) => item !== "")
    );
  const allowOrigins = list(values["allow-origin"]);
  const allowHosts = list(values["allow-host"]);
  const { store, prefix } = openStore(values);
  const quiet = values.quiet ?? false;
  const advertiseHost = listen.hostname === "0.0.0.0" ? "127.0.0.1" : listen.hostname;
  // Flags are checked before anything listens, so a bad one leaves nothing behind.
  const timing = {
    heartbeatTimeoutMs: parseDuration(values["heartbeat-timeout"], "--heartbeat-timeout"),
    heartbeatCheckMs: parseDuration(values["heartbeat-check"], "--heartbeat-check"),
    takeoverTimeoutMs: parseDuration(values["takeover-timeout"], "--takeover-timeout"),
    minCommitIntervalMs: parseDuration(values["min-commit-interval"], "--min-commit-interval"),
  };

  // The port may be 0 (pick one): start the server first, then the broker with the real URL.
  const started: { broker?: Broker } = {};
  const server = serveBroker({
    backend: {
      request: (operation, options) => started.broker!.request(operation, options),
      leaderInfo: () =>
        started.broker?.leaderInfo() ?? { leader: false, brokerId: values.identity ?? "starting" },
    },
    hostname: listen.hostname,
    port: listen.port,
    tokens,
    allowOrigins,
    allowHosts,
    log: quiet ? undefined : log,
  });
  const url = values.advertise ?? `http://${advertiseHost}:${server.addr.port}`;
  let broker: Broker;
  try {
    broker = started.broker = new Broker({
      store,
      prefix,
      identity: { id: values.identity ?? `${Deno.hostname()}:${server.addr.port}`, url },
      ...timing,
      log: (event) => {
        const important = !["commit", "conflict"].includes(event.event);
        if (!quiet || important) log(JSON.stringify(event));
      },
    });
    await broker.start();
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  log(
    `broker ${broker.identity.id} ${broker.role} on ${server.url} (store ${store.description}${
      prefix ? " prefix " + prefix : ""
    }${tokens.length > 0 ? `, ${tokens.length} token(s) required` : ""}${
      allowOrigins.length > 0 ? `, origins ${allowOrigins.join(" ")}` : ""
    })`,
  );
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  log("shutting down");
  await server.shutdown();
  await broker.stop();
  return 0;
}

async function pushCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      type: { type: "string" },
      payload: { type: "string", default: "null" },
      priority: { type: "string" },
      delay: { type: "string" },
      "max-attempts": { type: "string" },
      key: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return help("push");
  if (values.type === undefined) {
    console.error(`osqueue push: --type is required\n\n${HELP.push}`);
    return 2;
  }
  let payload: unknown;
  try {
    payload = JSON.parse(values.payload);
  } catch {
    console.error(`osqueue push: --payload is not valid JSON: ${values.payload}`);
    return 2;
  }
  const job: Record<string, unknown> = { type: values.type, payload };
  if (values.priority !== undefined) job.priority = Number(values.priority);
  if (values.delay !== undefined) job.delayMs = parseDuration(values.delay, "--delay");
  if (values["max-attempts"] !== undefined) job.maxAttempts = Number(values["max-attempts"]);
  if (values.key !== undefined) job.idempotencyKey = values.key;
  const body = await rest(values, "POST", "/v1/jobs", job);
  console.log(JSON.stringify(body));
  return 0;
}

async function statsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      "token-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return help("stats");
  console.log(JSON.stringify(await rest(values, "GET", "/v1/stats"), null, 2));
  return 0;
}

async function inspectCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...STORAGE_OPTIONS, jobs: { type: "boolean" }, key: { type: "string" } },
  });
  if (values.help) return help("inspect");
  const { store, prefix } = openStore(values);
  const key = prefix + (values.key ?? "queue.json");
  const found = await store.get(key);
  if (found === null) {
    console.error(`osqueue inspect: no queue state at ${key} in ${store.description}`);
    return 1;
  }
  const state = decodeState(found.body);
  console.log(JSON.stringify(
    {
      key,
      store: store.description,
      bytes: found.body.length,
      etag: found.etag,
      leader: state.leader,
      jobs: jobCount(state),
      stats: queueStats(state, Date.now()),
    },
    null,
    2,
  ));
  if (values.jobs) { for (const job of listJobs(state)) console.log(JSON.stringify(job)); }
  return 0;
}

async function rest(
  flags: { url?: string; token?: string; "token-file"?: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const base = flags.url ?? Deno.env.get("OSQUEUE_URL") ?? "http://127.0.0.1:8080";
  const token = await clientToken({
    ...(flags.token === undefined ? {} : { token: flags.token }),
    ...(flags["token-file"] === undefined ? {} : { tokenFile: flags["token-file"] }),
    warn: (line) => console.error(`osqueue: ${line}`),
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(new URL(path, base), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } }).error;
    throw new OsqueueError(
      error?.code ?? "internal",
      `${method} ${path}: HTTP ${response.status}: ${error?.message ?? response.statusText}`,
    );
  }
  return json;
}

function help(command: string): number {
  console.log(HELP[command]);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
