import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { serveBroker } from "../server/server.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { freePort, startCliBroker, tempDir } from "../tests/_helpers.ts";
import { run } from "./_test_run.ts";

Deno.test("cli: --help prints the usage and exits 0; no command exits 2", async () => {
  for (const flag of ["--help", "-h", "help"]) {
    const { code, out } = await run([flag]);
    assert.equal(code, 0, flag);
    assert.match(out, /^Usage: osqueue <command> \[options\]$/m);
    assert.match(out, /^ {2}broker /m);
    assert.match(out, /^ {2}inspect /m);
  }
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.out, /Usage: osqueue/);
});

Deno.test("cli: each command has its own --help", async () => {
  for (const command of ["broker", "push", "stats", "inspect", "jobs", "top"]) {
    const { code, out } = await run([command, "--help"]);
    assert.equal(code, 0, command);
    assert.match(out, new RegExp(`^osqueue ${command} — `), command);
  }
});

Deno.test("cli: an unknown command exits 2 and names it", async () => {
  const { code, err } = await run(["frobnicate", "--now"]);
  assert.equal(code, 2);
  assert.match(err, /unknown command "frobnicate"/);
  assert.match(err, /Usage: osqueue/);
});

Deno.test("cli: usage errors exit 2: push without --type, bad JSON, unknown or valueless options", async () => {
  const noType = await run(["push", "--payload", "{}"]);
  assert.equal(noType.code, 2);
  assert.match(noType.err, /--type is required/);
  const badJson = await run(["push", "--type", "t", "--payload", "{nope"]);
  assert.equal(badJson.code, 2);
  assert.match(badJson.err, /--payload is not valid JSON/);
  const unknown = await run(["broker", "--bogus"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /--bogus/);
  const valueless = await run(["push", "--type"]);
  assert.equal(valueless.code, 2);
});

Deno.test("cli: bad broker flags fail before anything listens", async () => {
  await using dir = await tempDir();
  const listen = await run(["broker", "--listen", "nowhere", "--data", dir.path]);
  assert.equal(listen.code, 1);
  assert.match(listen.err, /--listen: expected \[host\]:port/);
  const port = freePort();
  const cases: [string[], RegExp][] = [
    [["--heartbeat-timeout", "soon"], /--heartbeat-timeout: expected a duration/],
    [["--heartbeat-check", "0"], /heartbeatCheckMs must be a positive number/],
    [["--linger", "soon"], /--linger: expected a duration/],
  ];
  for (const [flags, expected] of cases) {
    const { code, err } = await run(
      ["broker", "--listen", `127.0.0.1:${port}`, "--data", dir.path, ...flags],
    );
    assert.equal(code, 1);
    assert.match(err, expected);
    // Nothing was left listening on the port.
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    listener.close();
  }
});

Deno.test("cli: push and stats talk to a broker's REST API, with its token", async () => {
  const broker = new Broker({ store: new MemoryStore() });
  await broker.start();
  const server = serveBroker({ backend: broker, hostname: "127.0.0.1", port: 0, token: "t0k" });
  try {
    const url = server.url;
    const pushed = await run([
      "push",
      "--url",
      url,
      "--token",
      "t0k",
      "--type",
      "email:send",
      "--payload",
      '{"to":"a@example.com"}',
      "--priority",
      "5",
      "--key",
      "k1",
      "--json",
    ]);
    assert.equal(pushed.code, 0, pushed.err);
    assert.match(pushed.err, /--token puts the secret on the command line/);
    const { id, duplicate } = JSON.parse(pushed.out);
    assert.equal(duplicate, false);
    const job = (await broker.request({ op: "get", jobId: id })).job;
    assert.deepEqual(
      [job.type, job.payload, job.priority, job.idempotencyKey],
      ["email:send", { to: "a@example.com" }, 5, "k1"],
    );

    await using dir = await tempDir();
    const tokenFile = `${dir.path}/token`;
    await Deno.writeTextFile(tokenFile, "t0k\n");
    const stats = await run(["stats", "--url", url, "--token-file", tokenFile, "--json"]);
    assert.equal(stats.code, 0, stats.err);
    assert.equal(stats.err, "", "no warning for a token file");
    assert.equal(JSON.parse(stats.out).totals.pushed, 1);

    const denied = await run(["stats", "--url", url, "--token", "wrong"]);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /unauthorized: GET \/v1\/stats: HTTP 401/);
  } finally {
    await server.shutdown();
    await broker.stop();
  }
});

Deno.test("cli: inspect reads the state a broker left in its data directory and lists the jobs", async () => {
  await using dir = await tempDir();
  const missing = await run(["inspect", "--data", dir.path]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no queue state at queue\.json/);

  // A real broker process; jobs pushed through the CLI; one of them completed.
  const broker = await startCliBroker({ data: dir.path, identity: "inspected" });
  const ids: string[] = [];
  try {
    for (const n of [1, 2, 3]) {
      const pushed = await run([
        "push",
        "--url",
        broker.url,
        "--type",
        "inspect:me",
        "--payload",
        JSON.stringify({ n }),
        "--json",
      ]);
      assert.equal(pushed.code, 0, pushed.err);
      ids.push(JSON.parse(pushed.out).id);
    }
  } finally {
    broker.child.kill("SIGINT");
    assert.equal((await broker.child.exit()).code, 0, broker.child.output());
  }

  const summary = await run(["inspect", "--data", dir.path]);
  assert.equal(summary.code, 0, summary.err);
  const report = JSON.parse(summary.out);
  assert.equal(report.key, "queue.json");
  assert.equal(report.jobs, 3);
  assert.equal(report.stats.ready, 3);
  assert.equal(report.stats.totals.pushed, 3);
  assert.deepEqual(report.stats.byType, { "inspect:me": 3 });

  const withJobs = await run(["inspect", "--data", dir.path, "--jobs"]);
  assert.equal(withJobs.code, 0, withJobs.err);
  // The summary (pretty JSON), then one JSON line per job.
  const lines = withJobs.out.split("\n");
  const jobs = lines.slice(lines.lastIndexOf("}") + 1).map((line) => JSON.parse(line));
  assert.deepEqual(jobs.map((job) => job.id).sort(), [...ids].sort());
  for (const job of jobs) {
    assert.equal(job.state, "ready");
    assert.equal(job.type, "inspect:me");
  }
  assert.deepEqual(jobs.map((job) => job.payload.n).sort(), [1, 2, 3]);
});

Deno.test("cli: --max-pending-jobs refuses a push over the limit (429 overloaded); stats show the limits", async () => {
  await using dir = await tempDir();
  await using broker = await startCliBroker({
    data: dir.path,
    extra: ["--max-pending-jobs", "2", "--max-state-bytes", "10MB"],
  });
  const push = (n: number) =>
    fetch(new URL("/v1/jobs", broker.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "t", payload: n }),
    });
  for (const n of [1, 2]) assert.equal((await push(n)).status, 201);
  const refused = await push(3);
  assert.equal(refused.status, 429);
  const body = await refused.json();
  assert.equal(body.error.code, "overloaded");
  assert.match(body.error.message, /pending/);
  const stats = await (await fetch(new URL("/v1/stats", broker.url))).json();
  assert.equal(stats.ready, 2, "nothing of the refused push was applied");
  assert.equal(stats.limits.maxPendingJobs, 2);
  assert.equal(stats.limits.maxStateBytes, 10_000_000);
  assert.equal(stats.limits.pendingJobs, 2);
  assert.ok(stats.limits.stateBytes > 0, `stateBytes ${stats.limits.stateBytes}`);
  broker.child.kill("SIGTERM");
  await broker.child.exit();
});
