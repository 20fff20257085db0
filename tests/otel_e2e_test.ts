/**
 * OpenTelemetry through Deno's built-in exporter: a CLI broker run with
 * `OTEL_DENO=true` sends its osqueue spans (requests and job lives) over
 * OTLP/HTTP JSON to a receiver in this test.
 */
import assert from "node:assert/strict";
import { connectClient } from "../worker/client.ts";
import { repoPath, spawnDeno, tempDir } from "./_helpers.ts";

interface OtlpSpan {
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
  links?: unknown[];
}

function attributes(span: OtlpSpan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of span.attributes ?? []) {
    const v = value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue ??
      (value.arrayValue as { values?: { stringValue?: string }[] } | undefined)?.values?.map((x) =>
        x.stringValue
      );
    out[key] = typeof v === "string" && /^\d+$/.test(v) && key !== "osqueue.job.id" ? Number(v) : v;
  }
  return out;
}

Deno.test("OTel: OTEL_DENO=true exports request spans and osqueue.job spans with attributes", async () => {
  const spans: OtlpSpan[] = [];
  const metricNames = new Set<string>();
  const receiver = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const body = await request.json().catch(() => ({}));
      const path = new URL(request.url).pathname;
      if (path === "/v1/traces") {
        for (const resource of body.resourceSpans ?? []) {
          for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
        }
      } else if (path === "/v1/metrics") {
        for (const resource of body.resourceMetrics ?? []) {
          for (const scope of resource.scopeMetrics ?? []) {
            for (const metric of scope.metrics ?? []) metricNames.add(metric.name);
          }
        }
      }
      return Response.json({});
    },
  );
  await using dir = await tempDir();
  const child = spawnDeno([
    repoPath("cli/main.ts"),
    "broker",
    "--listen",
    "127.0.0.1:0",
    "--data",
    dir.path,
    "--identity",
    "otel-broker",
  ], {
    name: "otel-broker",
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "osqueue-test",
      OTEL_DENO_CONSOLE: "ignore",
      OTEL_METRIC_EXPORT_INTERVAL: "200",
    },
  });
  try {
    const [, url] = await child.stdout.waitFor(/broker otel-broker leader on (http:\/\/\S+)/);
    const client = connectClient({ url });
    try {
      const { jobs } = await client.push([{ type: "traced", payload: { n: 1 } }]);
      const [job] = (await client.claim({ workerId: "otel-worker" })).jobs;
      assert.equal(job.id, jobs[0].id);
      await client.complete(job.id, job.leaseToken);
    } finally {
      await client.close();
    }
    // Observable instruments are read at the periodic collection (every 200 ms here).
    const deadline = Date.now() + 15_000;
    while (!metricNames.has("osqueue.jobs") && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0, child.output());
    const names = spans.map((span) => span.name);
    for (const name of ["osqueue.push", "osqueue.claim", "osqueue.complete", "osqueue.job"]) {
      assert.ok(names.includes(name), `${name} in ${names.join(", ")}`);
    }
    const life = spans.find((span) => span.name === "osqueue.job")!;
    const attrs = attributes(life);
    assert.equal(attrs["osqueue.job.type"], "traced");
    assert.equal(attrs["osqueue.job.outcome"], "completed");
    assert.equal(attrs["osqueue.worker.id"], "otel-worker");
    assert.equal(attrs["osqueue.job.attempts"], 1);
    assert.ok(BigInt(life.endTimeUnixNano) >= BigInt(life.startTimeUnixNano));
    assert.equal(life.links?.length, 1, "linked to the push span");
    for (const name of ["osqueue.store.duration", "osqueue.jobs", "osqueue.jobs.total"]) {
      assert.ok(metricNames.has(name), `${name} in ${[...metricNames].join(", ")}`);
    }
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await receiver.shutdown();
  }
});
