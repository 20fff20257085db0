/**
 * The osqueue command line: `osqueue broker | push | stats | inspect`.
 *
 * ```sh
 * deno install -g -A -n osqueue jsr:@osqueue/cli
 * osqueue broker --listen :8080 --data ./data
 * deno run -A jsr:@osqueue/cli push --type email:send --payload '{"to":"a@example.com"}'
 * ```
 *
 * Each command needs only some permissions (see the README): `--help` none,
 * `push`/`stats` `--allow-net --allow-env=OSQUEUE_URL,OSQUEUE_TOKEN`, a
 * broker on a directory `--allow-net --allow-read=DIR --allow-write=DIR
 * --allow-env=OSQUEUE_TOKEN --allow-sys=hostname`, S3 also
 * `--allow-env --allow-sys=osRelease`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { InvalidError, OsqueueError, UnavailableError } from "@osqueue/osqueue/worker";
import type { ObjectStore } from "@osqueue/osqueue/storage";
import type { QueueBackend, QueueLimits } from "@osqueue/osqueue/protocol";
import { ArchiveReader, Broker, readQueueState } from "@osqueue/osqueue/broker";
import { createState, jobCount, listJobs, queueStats } from "@osqueue/osqueue/core";
import { denoOtelRecorder, MetricsCollector, serveBroker } from "@osqueue/osqueue/server";
import { parseCount, parseDuration, parseListen, parseSize } from "./args.ts";
import { JOBS_HELP, jobsCommand } from "./jobs.ts";
import { brokerEventLevel, Logger, parseLogFormat, parseLogLevel, serverLineLevel } from "./log.ts";
import { formatPushFile, pushFile } from "./push_file.ts";
import { env, restCall } from "./rest_client.ts";
import { STATS_HELP, statsCommand, TOP_HELP, topCommand } from "./top.ts";
import { loadBrokerTokens } from "./secrets.ts";
import { TYPES_HELP, typesCommand } from "./types.ts";
import { SCHEDULES_HELP, schedulesCommand } from "./schedules.ts";

const HELP: Record<string, string> = {
  main: `osqueue — a durable job queue on object storage

Usage: osqueue <command> [options]

Commands:
  broker    run a broker server (WebSocket RPC, REST, dashboard at /ui, /metrics)
  push      enqueue a job (or a file of JSON lines) through a broker's REST API
  jobs      list jobs by state, show one, retry / cancel / promote / delete
  types     pause / resume job types, set rate and concurrency limits
  schedules recurring jobs: cron or every N (ls, set, rm)
  stats     print a broker's queue counters (--watch to refresh)
  top       a live terminal view of a broker
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
  --token-file PATH         require this admin token (the file's content) for the API, the
                            dashboard and /metrics; env OSQUEUE_TOKEN
  --token TOKEN             same, but visible in ps: prefer --token-file or OSQUEUE_TOKEN
  --allow-origin ORIGIN     let web pages from ORIGIN (https://app.example.com) use the broker
                            (WebSocket and CORS); repeatable or comma-separated; default none
  --max-pending-jobs N      refuse pushes (overloaded, HTTP 429) beyond N unfinished jobs
  --max-state-bytes SIZE    refuse pushes once the stored state (checkpoint + log) is this big
                            (e.g. 500MB, 2GiB)
  --allow-host NAME         on loopback, also answer to this Host name (a proxy's public name;
                            * = any); repeatable or comma-separated
  --log-level LEVEL         debug, info (default), warn or error; debug and info go to stdout,
                            warn and error to stderr
  --log-format FORMAT       text (default, readable) or json (one JSON object per line)
  --quiet                   same as --log-level warn (the ready line is still printed)
With OTEL_DENO=true, spans (osqueue.<op>, osqueue.job, osqueue.commit) and metrics go to
Deno's OpenTelemetry exporter (OTEL_EXPORTER_OTLP_ENDPOINT, …).
Durations take a unit: 500ms, 30s, 5m, 1h.
The dashboard is served at <url>/ui, Prometheus metrics at <url>/metrics.
Credentials for S3 come from the standard AWS env vars (AWS_ACCESS_KEY_ID, …).`,
  push: `osqueue push — enqueue a job, or every job of a JSON-lines file

Options:
  --url URL          broker URL (default http://127.0.0.1:8080); env OSQUEUE_URL
  --type TYPE        job type (required without --file; with --file, the default type)
  --payload JSON     JSON payload (default null)
  --priority N       higher runs first
  --delay DUR        run no earlier than this from now, with a unit: 500ms, 30s, 5m, 1h
  --max-attempts N   attempts before dead-lettering
  --key KEY          idempotency key
  --file PATH        push one job per line, each {"type": …, "payload": …, …} ("-" = stdin);
                     every line is checked before anything is pushed; progress on stderr
  --json             print the reply as JSON
  --token-file PATH  bearer token read from a file; env OSQUEUE_TOKEN
  --token TOKEN      bearer token (visible in ps: prefer --token-file)`,
  stats: STATS_HELP,
  top: TOP_HELP,
  jobs: JOBS_HELP,
  types: TYPES_HELP,
  schedules: SCHEDULES_HELP,
  inspect: `osqueue inspect — read the queue state straight from storage (no broker needed)

Options:
  --data DIR | --storage s3://bucket/prefix  (and the --s3-* options of "broker")
  --jobs             also list every job in the state, one JSON line each`,
};

const EMPTY_STATE = createState();

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
      case "top":
        return await topCommand(rest);
      case "jobs":
        return await jobsCommand(rest);
      case "types":
        return await typesCommand(rest);
      case "schedules":
        return await schedulesCommand(rest);
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
    if (
      (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) ||
      (error as { usage?: unknown } | null)?.usage === true
    ) {
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

/**
 * Opens the store named by `--data` or `--storage` (not both); returns it
 * with the key prefix to use. The storage modules (and the AWS SDK, which
 * needs more permissions) are loaded only here, and the S3 store only when
 * asked for, so `--help` and the client commands need no env access.
 */
async function openStore(flags: StorageFlags): Promise<{ store: ObjectStore; prefix: string }> {
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
      "log-level": { type: "string" },
      "log-format": { type: "string", default: "text" },
      "token-file": { type: "string" },
      "tokens-file": { type: "string" },
      "max-pending-jobs": { type: "string" },
      "max-state-bytes": { type: "string" },
      "allow-origin": { type: "string", multiple: true },
      "allow-host": { type: "string", multiple: true },
      quiet: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return help("broker");
  const listen = parseListen(values.listen);
  const logger = new Logger({
    level: parseLogLevel(values["log-level"] ?? (values.quiet ? "warn" : "info")),
    format: parseLogFormat(values["log-format"]),
  });
  const tokens = await loadBrokerTokens({
    ...(values.token === undefined ? {} : { token: values.token }),
    ...(values["token-file"] === undefined ? {} : { tokenFile: values["token-file"] }),
    ...(values["tokens-file"] === undefined ? {} : { tokensFile: values["tokens-file"] }),
    warn: (line) => logger.warn(line),
    env, // only the variables the broker may read: OSQUEUE_TOKEN(S_FILE)
  });
  const list = (values: string[] | undefined) =>
    (values ?? []).flatMap((text) =>
      text.split(",").map((item) => item.trim()).filter((item) => item !== "")
    );
  const allowOrigins = list(values["allow-origin"]);
  const allowHosts = list(values["allow-host"]);
  const advertiseHost = listen.hostname === "0.0.0.0" ? "127.0.0.1" : listen.hostname;
  // Flags are checked before anything listens, so a bad one leaves nothing behind.
  const timing = {
    heartbeatTimeoutMs: parseDuration(values["heartbeat-timeout"], "--heartbeat-timeout"),
    heartbeatCheckMs: parseDuration(values["heartbeat-check"], "--heartbeat-check"),
    takeoverTimeoutMs: parseDuration(values["takeover-timeout"], "--takeover-timeout"),
    minCommitIntervalMs: parseDuration(values["min-commit-interval"], "--min-commit-interval"),
  };
  const limits: QueueLimits = {};
  if (values["max-pending-jobs"] !== undefined) {
    limits.maxPendingJobs = parseCount(values["max-pending-jobs"], "--max-pending-jobs");
  }
  if (values["max-state-bytes"] !== undefined) {
    limits.maxStateBytes = parseSize(values["max-state-bytes"], "--max-state-bytes");
  }
  const opened = await openStore(values);
  const { prefix } = opened;
  const collector = new MetricsCollector();
  const { InstrumentedStore } = await import("@osqueue/osqueue/storage");
  // OpenTelemetry spans and metrics when Deno exports them (OTEL_DENO=true).
  const otel = ["true", "1"].includes(env("OTEL_DENO") ?? "") ? denoOtelRecorder() : undefined;
  const store = new InstrumentedStore({
    store: opened.store,
    observe: (call) => {
      collector.onStoreCall(call);
      otel?.onStoreCall(call);
    },
  });

  // The port may be 0 (pick one): start the server first, then the broker with the real URL.
  const started: { broker?: Broker } = {};
  let server;
  try {
    const backend: QueueBackend = {
      request: (operation, options) =>
        started.broker?.request(operation, options) ??
          Promise.reject(new UnavailableError("the broker is starting")),
      leaderInfo: () =>
        started.broker?.leaderInfo() ??
          { leader: false, brokerId: values.identity ?? "starting" },
    };
    server = serveBroker({
      backend: otel?.traceBackend(backend) ?? backend,
      hostname: listen.hostname,
      port: listen.port,
      tokens,
      allowOrigins,
      allowHosts,
      // "listening" is said once the storage works: the line after broker.start().
      log: (line) => {
        if (!/^broker server listening on /.test(line)) logger.log(serverLineLevel(line), line);
      },
      operator: {
        broker: {
          get state() {
            return started.broker?.state ?? EMPTY_STATE;
          },
          get metrics() {
            return started.broker?.metrics ?? {};
          },
          get role() {
            return started.broker?.role;
          },
          leaderInfo: () =>
            started.broker?.leaderInfo() ??
              { leader: false, brokerId: values.identity ?? "starting" },
        },
        collector,
        archive: new ArchiveReader({ store, prefix }),
      },
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new UnavailableError(
        `cannot listen on ${listen.hostname}:${listen.port}: the address is already in use (another broker running?)`,
        { cause: error },
      );
    }
    if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
      throw new UnavailableError(
        `cannot listen on ${listen.hostname}:${listen.port}: ${error.message}`,
        { cause: error },
      );
    }
    throw error;
  }
  const url = values.advertise ?? `http://${advertiseHost}:${server.addr.port}`;
  let broker: Broker;
  try {
    broker = started.broker = new Broker({
      store,
      prefix,
      identity: { id: values.identity ?? `${Deno.hostname()}:${server.addr.port}`, url },
      ...timing,
      ...(Object.keys(limits).length === 0 ? {} : { limits }),
      log: (event) => {
        collector.onEvent(event);
        otel?.onEvent(event);
        const { event: name, ...fields } = event;
        logger.log(brokerEventLevel(name), name, fields);
      },
    });
    await broker.start();
  } catch (error) {
    await server.shutdown();
    throw error;
  }
  otel?.observeQueue(() => {
    const stats = queueStats(broker.state, Date.now());
    return {
      jobs: {
        ready: stats.ready,
        delayed: stats.delayed,
        active: stats.active,
        finished_pending: stats.finishedPending,
      },
      totals: { ...stats.totals },
      leader: broker.role === "leader",
    };
  });
  logger.ready(
    `broker ${broker.identity.id} ${broker.role} on ${server.url} (store ${store.description}${
      prefix ? " prefix " + prefix : ""
    }${tokens.length > 0 ? `, ${tokens.length} token(s) required` : ""}${
      allowOrigins.length > 0 ? `, origins ${allowOrigins.join(" ")}` : ""
    }); dashboard ${server.url}/ui, metrics ${server.url}/metrics`,
  );
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  logger.info("shutting down");
  // Stop taking requests and answer those in flight (bounded), then resign,
  // then close the sockets: in-flight calls get their committed replies.
  await server.drain();
  if (!await settlesWithin(broker.stop(), BROKER_STOP_TIMEOUT_MS)) {
    logger.warn(
      `broker did not stop within ${BROKER_STOP_TIMEOUT_MS} ms; exiting without a resign`,
    );
  }
  await server.shutdown();
  return 0;
}

/** Longest wait for `broker.stop()` (the commit in flight and the resign write) at shutdown, ms. */
const BROKER_STOP_TIMEOUT_MS = 10_000;

/** Whether `promise` settles (either way) within `ms`; a rejection is logged. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(() => true, (error) => {
    console.error(`[osqueue] stop failed: ${error instanceof Error ? error.message : error}`);
    return true;
  });
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function pushCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      type: { type: "string" },
      payload: { type: "string" },
      priority: { type: "string" },
      delay: { type: "string" },
      "max-attempts": { type: "string" },
      key: { type: "string" },
      file: { type: "string" },
      json: { type: "boolean" },
      token: { type: "string" },
      "token-file": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return help("push");
  const flags = { url: values.url, token: values.token, "token-file": values["token-file"] };
  if (values.file !== undefined) {
    if (values.payload !== undefined || values.key !== undefined) {
      console.error(
        "osqueue push: --payload and --key apply to one job; with --file put them on each line",
      );
      return 2;
    }
    const defaults: Record<string, unknown> = {};
    if (values.type !== undefined) defaults.type = values.type;
    if (values.priority !== undefined) defaults.priority = Number(values.priority);
    if (values.delay !== undefined) defaults.delayMs = parseDuration(values.delay, "--delay");
    if (values["max-attempts"] !== undefined) defaults.maxAttempts = Number(values["max-attempts"]);
    const text = values.file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(values.file);
    const result = await pushFile({
      flags,
      text,
      name: values.file === "-" ? "stdin" : values.file,
      defaults,
      progress: values.json ? undefined : (line) => console.error(line),
    });
    console.log(values.json ? JSON.stringify(result) : formatPushFile(result));
    return 0;
  }
  if (values.type === undefined) {
    console.error(`osqueue push: --type is required\n\n${HELP.push}`);
    return 2;
  }
  let payload: unknown;
  try {
    payload = JSON.parse(values.payload ?? "null");
  } catch {
    console.error(`osqueue push: --payload is not valid JSON: ${values.payload}`);
    return 2;
  }
  const job: Record<string, unknown> = { type: values.type, payload };
  if (values.priority !== undefined) job.priority = Number(values.priority);
  if (values.delay !== undefined) job.delayMs = parseDuration(values.delay, "--delay");
  if (values["max-attempts"] !== undefined) job.maxAttempts = Number(values["max-attempts"]);
  if (values.key !== undefined) job.idempotencyKey = values.key;
  const body = await restCall(flags, "POST", "/v1/jobs", job) as { id: string; duplicate: boolean };
  console.log(
    values.json
      ? JSON.stringify(body)
      : body.duplicate
      ? `job ${body.id} already exists with key ${values.key} (not pushed again)`
      : `pushed job ${body.id} (${values.type})`,
  );
  return 0;
}

async function inspectCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...STORAGE_OPTIONS, jobs: { type: "boolean" }, key: { type: "string" } },
  });
  if (values.help) return help("inspect");
  const { store, prefix } = await openStore(values);
  const snapshot = await readQueueState({ store, prefix, headKey: values.key ?? "queue.json" });
  if (snapshot === null) {
    console.error(
      `osqueue inspect: no queue state at ${prefix}${
        values.key ?? "queue.json"
      } in ${store.description}`,
    );
    return 1;
  }
  const { state, head, manifest } = snapshot;
  console.log(JSON.stringify(
    {
      key: snapshot.key,
      store: store.description,
      layout: snapshot.version === 1 ? { version: 1 } : {
        version: 2,
        epoch: head?.epoch,
        checkpoint: head?.checkpoint ?? null,
        segments: manifest?.segments.length ?? 0,
        logTail: snapshot.tail,
      },
      leader: head === undefined ? state.leader : head.leader,
      jobs: jobCount(state),
      stats: queueStats(state, Date.now()),
    },
    null,
    2,
  ));
  if (values.jobs) { for (const job of listJobs(state)) console.log(JSON.stringify(job)); }
  return 0;
}

function help(command: string): number {
  console.log(HELP[command]);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
