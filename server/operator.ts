/**
 * The operator's routes of the broker server: the dashboard at `/ui` (static
 * assets embedded in `ui/*.ts`, no build step), its data under `/ui/api`,
 * archived jobs at `/v1/archive`, and Prometheus metrics at `/metrics`.
 *
 * | route                     | reply                                                         |
 * | ------------------------- | ------------------------------------------------------------- |
 * | `GET /ui`, `/ui/app.js`, `/ui/app.css` | the dashboard (no data in it, so no token needed) |
 * | `GET /ui/api/overview`    | counts, workers, leadership, latency, history samples         |
 * | `GET /ui/api/events`      | server-sent events: `overview` (with `history`) then `sample` every interval |
 * | `GET /ui/api/jobs/:id`    | `{job, archived}`: the job without its lease token, from the state or the archive |
 * | `GET /v1/archive?state=&type=&from=&to=&cursor=&limit=` | `{jobs, next?}`: archived jobs, newest first |
 * | `POST /v1/archive/:id/requeue` | 201 `{id, duplicate, from}`: an archived dead or cancelled job pushed again as a new job |
 * | `GET /metrics`            | Prometheus text format                                        |
 *
 * Everything but the static assets needs the API token when one is set
 * (`Authorization: Bearer`); the dashboard asks for it and keeps it in the
 * tab's session storage.
 *
 * @module
 */
import { systemClock } from "../clock.ts";
import {
  BadRequestError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  UnauthorizedError,
} from "../errors.ts";
import type { QueueBackend } from "../protocol/backend.ts";
import { type JobSummary, summarizeJobs } from "../core/admin.ts";
import { type QueueState, queueStats } from "../core/state.ts";
import { type Authenticator, bearerToken } from "./auth.ts";
import {
  type ArchiveRouteSource,
  findJob,
  listArchived,
  requeueArchived,
} from "./archive_routes.ts";
import { renderPrometheus } from "./metrics.ts";
import { MetricsHistory, type MetricsSample } from "./metrics_history.ts";
import { errorResponse, jsonResponse } from "./rest.ts";
import { APP_CSS } from "./ui/app_css.ts";
import { APP_JS } from "./ui/app_js.ts";
import { INDEX_HTML } from "./ui/index_html.ts";
import type {
  ConnectionInfo,
  OperatorOptions,
  OperatorRoutes,
  Overview,
} from "./operator_types.ts";

export type {
  ArchiveSource,
  ConnectionInfo,
  ObservedBroker,
  OperatorOptions,
  OperatorRoutes,
  Overview,
} from "./operator_types.ts";

/** Builds the operator routes; `connections` lists the server's WebSocket connections. */
export function createOperatorRoutes(
  options: OperatorOptions & {
    backend: QueueBackend;
    authenticate?: Authenticator;
    connections: () => ConnectionInfo[];
  },
): OperatorRoutes {
  const { broker, collector, backend, authenticate, archive } = options;
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const history = new MetricsHistory(options.historySize ?? 900);
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const encoder = new TextEncoder();
  let summaryCache: { state: QueueState; at: number; summary: JobSummary } | undefined;

  function summary(): JobSummary {
    const state = broker.state;
    const at = now();
    if (summaryCache?.state !== state || at - summaryCache.at > 1000) {
      summaryCache = { state, at, summary: summarizeJobs(state, at) };
    }
    return summaryCache.summary;
  }

  function counters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(broker.metrics)) {
      if (typeof value === "number") out[key] = value;
    }
    return out;
  }

  function sample(): MetricsSample {
    return history.sample({
      now: now(),
      stats: queueStats(broker.state, now()),
      commits: counters().commits ?? 0,
      commitSeconds: collector.commitSeconds,
      putSeconds: collector.storeSeconds.get("put"),
    });
  }

  function overview(withHistory: boolean): Overview {
    const state = broker.state;
    const stats = queueStats(state, now());
    const jobs = summary();
    const ms = (v: number | undefined) => v === undefined ? undefined : v * 1000;
    const percentiles = (
      h: { quantile(q: number): number | undefined; count: number } | undefined,
    ) =>
      h === undefined ? { count: 0 } : {
        p50: ms(h.quantile(0.5)),
        p95: ms(h.quantile(0.95)),
        p99: ms(h.quantile(0.99)),
        count: h.count,
      };
    const out: Overview = {
      time: now(),
      broker: {
        ...broker.leaderInfo(),
        role: broker.role,
        epoch: stats.epoch,
        commit: stats.commit,
      },
      stats,
      byStateAndType: jobs.byStateAndType,
      counters: counters(),
      connections: options.connections().map((c) => ({
        ...c,
        running: c.workerId === undefined ? 0 : jobs.activeByWorker[c.workerId] ?? 0,
      })),
      latency: {
        commit: percentiles(collector.commitSeconds),
        put: percentiles(collector.storeSeconds.get("put")),
      },
    };
    if (withHistory) out.history = history.samples();
    return out;
  }

  function send(
    controller: ReadableStreamDefaultController<Uint8Array>,
    event: string,
    data: unknown,
  ) {
    try {
      controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    } catch {
      streams.delete(controller);
    }
  }

  const sampleIntervalMs = options.sampleIntervalMs ?? 1000;
  let timer: unknown;
  // Re-armed first, so that a sample that throws does not stop the sampler.
  const tick = () => {
    timer = clock.setTimeout(tick, sampleIntervalMs);
    const latest = sample();
    if (streams.size === 0) return;
    const current = overview(false);
    for (const controller of streams) send(controller, "sample", { ...current, sample: latest });
  };
  timer = clock.setTimeout(tick, sampleIntervalMs);

  function events(): Response {
    let self: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        self = controller;
        streams.add(controller);
        send(controller, "overview", overview(true));
      },
      cancel() {
        if (self !== undefined) streams.delete(self);
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
      },
    });
  }

  const source: ArchiveRouteSource = { backend, archive, now };

  function decodeId(text: string): string {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new BadRequestError("malformed job id");
    }
  }

  /** The operator routes (dashboard data, metrics, archive, admin actions) need an admin token. */
  function authorized(request: Request): void {
    if (authenticate === undefined) return;
    const token = bearerToken(request.headers);
    const grant = token === undefined ? undefined : authenticate(token);
    if (grant === undefined) {
      throw new UnauthorizedError("a valid Authorization: Bearer token is required");
    }
    if (grant.role !== "admin") {
      throw new ForbiddenError(`a ${grant.role} token may not use the operator API`, {
        data: { role: grant.role },
      });
    }
  }

  const assets: Record<string, [string, string]> = {
    "/ui": [INDEX_HTML, "text/html; charset=utf-8"],
    "/ui/": [INDEX_HTML, "text/html; charset=utf-8"],
    "/ui/app.js": [APP_JS, "text/javascript; charset=utf-8"],
    "/ui/app.css": [APP_CSS, "text/css; charset=utf-8"],
  };

  async function route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const requeueMatch = /^\/v1\/archive\/([^/]+)\/requeue$/.exec(path);
    if (requeueMatch !== null) {
      if (request.method !== "POST") {
        return errorResponse(
          new MethodNotAllowedError("method not allowed; use POST"),
          {
            allow: "POST",
          },
        );
      }
      authorized(request);
      return jsonResponse(await requeueArchived(source, decodeId(requeueMatch[1])), 201);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return errorResponse(new MethodNotAllowedError("method not allowed; use GET"), {
        allow: "GET",
      });
    }
    const asset = assets[path];
    if (asset !== undefined) {
      return new Response(asset[0], {
        headers: {
          "content-type": asset[1],
          "cache-control": "no-cache",
          "content-security-policy":
            "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:",
          "x-content-type-options": "nosniff",
        },
      });
    }
    authorized(request);
    if (path === "/metrics") {
      return new Response(
        renderPrometheus({
          stats: queueStats(broker.state, now()),
          jobsByStateAndType: summary().byStateAndType,
          broker: counters(),
          leader: broker.leaderInfo(),
          connections: options.connections().length,
          workers: options.connections().reduce(
            (sum, c) => ({
              subscribed: sum.subscribed + (c.workerId === undefined ? 0 : 1),
              credits: sum.credits + c.credits,
              outstandingClaims: sum.outstandingClaims + c.outstandingClaims,
            }),
            { subscribed: 0, credits: 0, outstandingClaims: 0 },
          ),
          collector,
        }),
        { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } },
      );
    }
    if (path === "/ui/api/overview") return jsonResponse(overview(true));
    if (path === "/ui/api/events") return events();
    if (path === "/v1/archive") return await listArchived(source, url);
    const match = /^\/ui\/api\/jobs\/([^/]+)$/.exec(path);
    if (match !== null) return jsonResponse(await findJob(source, decodeId(match[1])));
    throw new NotFoundError(`no route for ${path}`);
  }

  sample();
  return {
    matches: (path) =>
      path === "/metrics" || path === "/ui" || path.startsWith("/ui/") || path === "/v1/archive" ||
      /^\/v1\/archive\/[^/]+\/requeue$/.test(path),
    handle: async (request) => {
      try {
        return await route(request);
      } catch (error) {
        return errorResponse(error);
      }
    },
    close: () => {
      clock.clearTimeout(timer);
      for (const controller of streams) {
        try {
          controller.close();
        } catch {
          // already closed by the client
        }
      }
      streams.clear();
    },
  };
}
