/**
 * `osqueue broker`: runs a broker server (WebSocket RPC, REST, dashboard,
 * metrics) on a directory or S3, until SIGINT or SIGTERM.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UnavailableError } from "@osqueue/osqueue/worker";
import type { QueueBackend, QueueLimits } from "@osqueue/osqueue/protocol";
import { ArchiveReader, Broker } from "@osqueue/osqueue/broker";
import { createState, queueStats } from "@osqueue/osqueue/core";
import { denoOtelRecorder, MetricsCollector, serveBroker } from "@osqueue/osqueue/server";
import { parseCount, parseDuration, parseListen, parseSize } from "./args.ts";
import { brokerEventLevel, Logger, parseLogFormat, parseLogLevel, serverLineLevel } from "./log.ts";
import { env } from "./rest_client.ts";
import { loadBrokerTokens } from "./secrets.ts";
import { openStore, STORAGE_OPTIONS } from "./store_flags.ts";

/** The help of `osqueue broker`. */
export const BROKER_HELP = `osqueue broker — run a broker server

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
  --linger DUR              group commit waits up to this long for the callers the last commit
                            answered, so two alternating groups share one write; paused for a
                            while when lingers keep running out (default 2ms; 0 turns it off)
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
Credentials for S3 come from the standard AWS env vars (AWS_ACCESS_KEY_ID, …).`;

const EMPTY_STATE = createState();

/**
 * The group-commit linger. On radosgw (a commit is a PUT of a few
 * milliseconds) it cut W2's p99 from 29 to 19–23 ms and W1 drain writes from
 * 32 to 18–19 per 1,000 jobs. On a local directory, with clients that send a
 * turn's requests in one batch frame without Nagle's algorithm, W1 drain
 * writes went from 24–26 to 17–18 per 1,000 jobs (floor 16). Clients whose
 * sockets hold small writes back until the broker answers make lingers run
 * out; the loop then stops lingering for a while (`leader_loop.ts`).
 */
const DEFAULT_LINGER_MS = 2;

/** The group-commit linger for these flags: `--linger`, else 2 ms. */
export function lingerMs(flags: { linger?: string }): number {
  if (flags.linger !== undefined) return parseDuration(flags.linger, "--linger");
  return DEFAULT_LINGER_MS;
}

/** Runs `osqueue broker` with its arguments; resolves with the exit code once stopped. */
export async function brokerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...STORAGE_OPTIONS,
      listen: { type: "string", default: "127.0.0.1:8080" },
      "heartbeat-timeout": { type: "string", default: "30s" },
      "heartbeat-check": { type: "string", default: "5s" },
      "takeover-timeout": { type: "string", default: "15s" },
      "min-commit-interval": { type: "string", default: "0" },
      linger: { type: "string" },
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
  if (values.help) {
    console.log(BROKER_HELP);
    return 0;
  }
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
    maxLingerMs: lingerMs(values),
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
