/**
 * OpenTelemetry for a broker through Deno's built-in OTel (`OTEL_DENO=true`,
 * `Deno.telemetry.tracerProvider` / `meterProvider`; no npm package needed):
 *
 * - a span per queue request (`osqueue.push`, `osqueue.claim`, …) with the
 *   job ids, types, worker and outcome as attributes;
 * - a span per job life, `osqueue.job`, from push to its end (completed,
 *   dead, cancelled, deleted), with wait and run times, attempts and the
 *   holder, linked to the push span;
 * - a span per commit, `osqueue.commit`, from the broker's `commit` event
 *   (epoch, seq, requests, operations, bytes; it starts `ms` before the event);
 * - histograms: commit duration, requests and bytes per commit, store call
 *   duration by operation.
 *
 * The providers are structural (a subset of the OpenTelemetry JS API), so
 * tests pass recording fakes and Deno passes its own.
 *
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { QueueBackend, RequestOptions } from "../protocol/backend.ts";
import type { Operation, OperationResult } from "../protocol/operations.ts";

/** Attribute values. */
export type AttributeValue = string | number | boolean | string[];
/** Span attributes. */
export type Attributes = Record<string, AttributeValue>;

/** A span context (trace and span id). */
export interface SpanContextLike {
  /** Trace id. */
  traceId: string;
  /** Span id. */
  spanId: string;
  /** Trace flags. */
  traceFlags: number;
}

/** The part of an OpenTelemetry span used here. */
export interface SpanLike {
  /** Sets one attribute. */
  setAttribute(key: string, value: AttributeValue): unknown;
  /** Sets the status (1 ok, 2 error). */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Adds a timed event. */
  addEvent(name: string, attributes?: Attributes, time?: number): unknown;
  /** Ends the span (at `endTime`, epoch ms, when given). */
  end(endTime?: number): void;
  /** Its context, for links. */
  spanContext(): SpanContextLike;
}

/** The part of an OpenTelemetry tracer used here. */
export interface TracerLike {
  /** Starts a span. */
  startSpan(
    name: string,
    options?: {
      attributes?: Attributes;
      startTime?: number;
      links?: { context: SpanContextLike }[];
      kind?: number;
    },
  ): SpanLike;
}

/** An asynchronous instrument: its callbacks report values at each collection. */
export interface ObservableLike {
  /** Registers a callback that reports values. */
  addCallback(
    callback: (result: { observe(value: number, attributes?: Attributes): void }) => void,
  ): void;
}

/** The part of an OpenTelemetry meter used here. */
export interface MeterLike {
  /** A histogram instrument. */
  createHistogram(
    name: string,
    options?: { description?: string; unit?: string },
  ): { record(value: number, attributes?: Attributes): void };
  /** An observable gauge (optional: queue gauges are skipped without it). */
  createObservableGauge?(name: string, options?: { description?: string }): ObservableLike;
  /** An observable counter (optional: queue totals are skipped without it). */
  createObservableCounter?(name: string, options?: { description?: string }): ObservableLike;
}

/** What {@linkcode OtelRecorder.observeQueue} reads at each collection. */
export interface QueueReading {
  /** Jobs by state (ready, delayed, active, finished pending archive). */
  jobs: Record<string, number>;
  /** Queue-wide totals (pushed, completed, failed, …). */
  totals: Record<string, number>;
  /** Whether this broker leads. */
  leader: boolean;
}

/** Options of {@linkcode OtelRecorder}. */
export interface OtelRecorderOptions {
  /** Where spans go (e.g. `Deno.telemetry.tracerProvider.getTracer("osqueue")`). */
  tracer: TracerLike;
  /** Where metrics go (e.g. `Deno.telemetry.meterProvider.getMeter("osqueue")`). */
  meter?: MeterLike;
  /** Jobs whose life is tracked at once; the oldest are forgotten past it (default 100 000). */
  maxTrackedJobs?: number;
  /** The time (default: the system clock). */
  clock?: Pick<Clock, "now">;
}

interface TrackedJob {
  type: string;
  pushedAt: number;
  push: SpanContextLike;
  claimedAt?: number;
  workerId?: string;
  attempts: number;
}

const SPAN_KIND_INTERNAL = 0;
const STATUS_ERROR = 2;

/** Records osqueue's spans and metrics (see the module doc). */
export class OtelRecorder {
  readonly #tracer: TracerLike;
  readonly #now: () => number;
  readonly #maxJobs: number;
  readonly #jobs = new Map<string, TrackedJob>();
  readonly #commitMs?: { record(value: number, attributes?: Attributes): void };
  readonly #commitRequests?: { record(value: number, attributes?: Attributes): void };
  readonly #commitBytes?: { record(value: number, attributes?: Attributes): void };
  readonly #storeMs?: { record(value: number, attributes?: Attributes): void };
  readonly #meter?: MeterLike;

  /** A recorder writing to `options.tracer` and `options.meter`. */
  constructor(options: OtelRecorderOptions) {
    this.#tracer = options.tracer;
    const clock = options.clock ?? systemClock;
    this.#now = () => clock.now();
    this.#maxJobs = options.maxTrackedJobs ?? 100_000;
    const meter = options.meter;
    this.#meter = meter;
    if (meter !== undefined) {
      this.#commitMs = meter.createHistogram("osqueue.commit.duration", {
        description: "Commit latency: batch start to write landed",
        unit: "ms",
      });
      this.#commitRequests = meter.createHistogram("osqueue.commit.requests", {
        description: "Client requests per commit",
      });
      this.#commitBytes = meter.createHistogram("osqueue.commit.bytes", {
        description: "Bytes written per commit",
        unit: "By",
      });
      this.#storeMs = meter.createHistogram("osqueue.store.duration", {
        description: "Object store call latency",
        unit: "ms",
      });
    }
  }

  /** Jobs whose life is being tracked now. */
  get trackedJobs(): number {
    return this.#jobs.size;
  }

  /**
   * Reports the queue as observable instruments, read at each collection:
   * `osqueue.jobs` {state} and `osqueue.leader` gauges, `osqueue.jobs.total`
   * {outcome} counters (the same numbers as `/metrics`).
   */
  observeQueue(read: () => QueueReading): void {
    const meter = this.#meter;
    if (meter?.createObservableGauge === undefined) return;
    meter.createObservableGauge("osqueue.jobs", { description: "Jobs by state" }).addCallback(
      (result) => {
        for (const [state, n] of Object.entries(read().jobs)) {
          result.observe(n, { "osqueue.job.state": state });
        }
      },
    );
    meter.createObservableGauge("osqueue.leader", { description: "1 when this broker leads" })
      .addCallback((result) => result.observe(read().leader ? 1 : 0));
    meter.createObservableCounter?.("osqueue.jobs.total", {
      description: "Queue-wide totals since the queue was created",
    }).addCallback((result) => {
      for (const [outcome, n] of Object.entries(read().totals)) {
        result.observe(n, { "osqueue.job.outcome": outcome });
      }
    });
  }

  /** Records a broker event: a `commit` becomes a span and histogram values. */
  onEvent(event: { event: string; [field: string]: unknown }): void {
    if (event.event !== "commit") return;
    const now = this.#now();
    const ms = typeof event.ms === "number" ? event.ms : 0;
    const attributes: Attributes = {};
    for (const key of ["epoch", "seq", "requests", "operations", "bytes"]) {
      const value = event[key];
      if (typeof value === "number") attributes[`osqueue.commit.${key}`] = value;
    }
    const span = this.#tracer.startSpan("osqueue.commit", {
      kind: SPAN_KIND_INTERNAL,
      startTime: now - ms,
      attributes,
    });
    span.end(now);
    this.#commitMs?.record(ms);
    if (typeof event.requests === "number") this.#commitRequests?.record(event.requests);
    if (typeof event.bytes === "number") this.#commitBytes?.record(event.bytes);
  }

  /** Records a timed store call. */
  onStoreCall(call: { op: string; ms: number; ok: boolean; code?: string }): void {
    const attributes: Attributes = { "osqueue.store.op": call.op, "osqueue.store.ok": call.ok };
    if (call.code !== undefined) attributes["osqueue.store.error"] = call.code;
    this.#storeMs?.record(call.ms, attributes);
  }

  /** Wraps a backend so each request gets a span and jobs get life spans. */
  traceBackend(backend: QueueBackend): QueueBackend {
    return {
      leaderInfo: () => backend.leaderInfo(),
      request: <O extends Operation>(op: O, options?: RequestOptions) =>
        this.#traced(backend, op, options),
    };
  }

  async #traced<O extends Operation>(
    backend: QueueBackend,
    op: O,
    options?: RequestOptions,
  ): Promise<OperationResult<O>> {
    const attributes: Attributes = { "osqueue.op": op.op };
    if ("jobId" in op && typeof op.jobId === "string") attributes["osqueue.job.id"] = op.jobId;
    if ("workerId" in op && typeof op.workerId === "string") {
      attributes["osqueue.worker.id"] = op.workerId;
    }
    if (op.op === "push") {
      attributes["osqueue.push.count"] = op.jobs.length;
      attributes["osqueue.job.types"] = [...new Set(op.jobs.map((job) => job.type))];
    }
    const span = this.#tracer.startSpan(`osqueue.${op.op}`, {
      kind: SPAN_KIND_INTERNAL,
      attributes,
    });
    try {
      const result = await backend.request(op, options);
      this.#afterReply(op, result, span);
      span.end();
      return result;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      span.setAttribute("osqueue.error.code", typeof code === "string" ? code : "internal");
      span.setStatus({
        code: STATUS_ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
      span.end();
      throw error;
    }
  }

  #afterReply(op: Operation, result: unknown, span: SpanLike): void {
    const now = this.#now();
    switch (op.op) {
      case "push": {
        const jobs = (result as OperationResult<typeof op>).jobs;
        span.setAttribute("osqueue.job.ids", jobs.map((job) => job.id));
        jobs.forEach((job, index) => {
          if (job.duplicate) return;
          this.#track(job.id, {
            type: op.jobs[index].type,
            pushedAt: now,
            push: span.spanContext(),
            attempts: 0,
          });
        });
        return;
      }
      case "claim": {
        const jobs = (result as OperationResult<typeof op>).jobs;
        span.setAttribute("osqueue.claim.count", jobs.length);
        if (jobs.length > 0) span.setAttribute("osqueue.job.ids", jobs.map((job) => job.id));
        for (const job of jobs) {
          const tracked = this.#jobs.get(job.id);
          if (tracked === undefined) continue;
          tracked.claimedAt = now;
          tracked.workerId = op.workerId;
          tracked.attempts = job.attempt;
        }
        return;
      }
      case "complete":
        return this.#finish(op.jobId, "completed", now);
      case "fail": {
        const state = (result as OperationResult<typeof op>).state;
        span.setAttribute("osqueue.fail.next_state", state);
        if (state === "dead") this.#finish(op.jobId, "dead", now, op.error);
        return;
      }
      case "cancel":
        if ((result as OperationResult<typeof op>).cancelled) {
          this.#finish(op.jobId, "cancelled", now);
        }
        return;
      case "delete":
        return this.#finish(op.jobId, "deleted", now);
      case "release": {
        const tracked = this.#jobs.get(op.jobId);
        if (tracked !== undefined) tracked.claimedAt = undefined;
        return;
      }
    }
  }

  #track(id: string, job: TrackedJob): void {
    this.#jobs.set(id, job);
    while (this.#jobs.size > this.#maxJobs) {
      this.#jobs.delete(this.#jobs.keys().next().value as string);
    }
  }

  /** Ends a job's life: one `osqueue.job` span from push to now, linked to the push span. */
  #finish(id: string, outcome: string, now: number, error?: string): void {
    const tracked = this.#jobs.get(id);
    if (tracked === undefined) return;
    this.#jobs.delete(id);
    const attributes: Attributes = {
      "osqueue.job.id": id,
      "osqueue.job.type": tracked.type,
      "osqueue.job.outcome": outcome,
      "osqueue.job.attempts": tracked.attempts,
    };
    if (tracked.claimedAt !== undefined) {
      attributes["osqueue.job.wait_ms"] = tracked.claimedAt - tracked.pushedAt;
      attributes["osqueue.job.run_ms"] = now - tracked.claimedAt;
    }
    if (tracked.workerId !== undefined) attributes["osqueue.worker.id"] = tracked.workerId;
    const span = this.#tracer.startSpan("osqueue.job", {
      kind: SPAN_KIND_INTERNAL,
      startTime: tracked.pushedAt,
      attributes,
      links: [{ context: tracked.push }],
    });
    if (tracked.claimedAt !== undefined) {
      span.addEvent("claimed", { "osqueue.worker.id": tracked.workerId ?? "" }, tracked.claimedAt);
    }
    if (outcome === "dead") span.setStatus({ code: STATUS_ERROR, message: error ?? "dead" });
    span.end(now);
  }
}

/**
 * A recorder on Deno's built-in OpenTelemetry providers, or `undefined` when
 * they are missing (another runtime). Spans are exported only when the
 * process runs with `OTEL_DENO=true`.
 */
export function denoOtelRecorder(options: { now?: () => number } = {}): OtelRecorder | undefined {
  const telemetry = (Deno as unknown as {
    telemetry?: {
      tracerProvider?: { getTracer(name: string, version?: string): unknown };
      meterProvider?: { getMeter(name: string, version?: string): unknown };
    };
  }).telemetry;
  const tracer = telemetry?.tracerProvider?.getTracer("osqueue") as TracerLike | undefined;
  if (tracer === undefined) return undefined;
  const meter = telemetry?.meterProvider?.getMeter("osqueue") as MeterLike | undefined;
  return new OtelRecorder({ tracer, ...(meter === undefined ? {} : { meter }), ...options });
}
