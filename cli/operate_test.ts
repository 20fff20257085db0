/**
 * The CLI for people against a live broker: jobs ls/get/retry/cancel/promote/
 * delete (tables and --json), finished jobs from the archive, top and
 * stats --watch, bulk push from a file, and the paper cuts.
 */
import assert from "node:assert/strict";
import { Broker } from "../broker/broker.ts";
import { ArchiveReader } from "../broker/archive_reader.ts";
import { serveBroker } from "../server/server.ts";
import { MetricsCollector } from "../server/metrics.ts";
import { MemoryStore } from "../storage/memory_store.ts";
import { freePort, spawnDeno, tempDir } from "../tests/_helpers.ts";
import { run } from "./_test_run.ts";

async function startBroker(options: { archiveMaxAgeMs?: number; operator?: boolean } = {}) {
  const store = new MemoryStore();
  const collector = new MetricsCollector();
  const broker = new Broker({ store, archiveMaxAgeMs: options.archiveMaxAgeMs ?? 60_000 });
  await broker.start();
  const server = serveBroker({
    backend: broker,
    port: 0,
    token: "cli-token",
    ...(options.operator === false
      ? {}
      : { operator: { broker, collector, archive: new ArchiveReader({ store }) } }),
  });
  const flags = ["--url", server.url, "--token", "cli-token"];
  return {
    broker,
    server,
    flags,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await broker.stop();
    },
  };
}

async function kill(broker: Broker, type: string, error: string): Promise<string> {
  const [job] = (await broker.request({ op: "claim", workerId: "w-9", types: [type] })).jobs;
  await broker.request({
    op: "fail",
    jobId: job.id,
    leaseToken: job.leaseToken,
    error,
    retry: false,
  });
  return job.id;
}

Deno.test("cli jobs: ls as a table and JSON, paging, get without the token, retry, promote, cancel, delete", async () => {
  await using q = await startBroker();
  const { broker, flags } = q;
  await broker.request({
    op: "push",
    jobs: [
      { type: "mail", payload: { to: "a" } },
      { type: "mail", payload: { to: "b" } },
      { type: "mail", payload: { to: "c" } },
      { type: "sms", payload: { to: "+1" } },
      { type: "report", payload: { month: 11 }, delayMs: 3_600_000 },
    ],
  });
  const dead1 = await kill(broker, "mail", "SMTP 550: mailbox unavailable");
  const dead2 = await kill(broker, "mail", "SMTP 421");

  const ls = await run(["jobs", "ls", "--state", "dead", ...flags]);
  assert.equal(ls.code, 0, ls.err);
  const lines = ls.out.split("\n");
  assert.match(lines[0], /^ID\s+TYPE\s+STATE\s+ATTEMPTS\s+PRIORITY\s+FINISHED\s+LAST ERROR$/);
  assert.match(lines[1], new RegExp(`^${dead2}\\s+mail\\s+dead\\s+1/3\\s+0\\s+now\\s+SMTP 421$`));
  assert.match(lines[2], new RegExp(`^${dead1}\\s+mail\\s+dead .*SMTP 550: mailbox unavailable$`));
  assert.match(ls.out, /2 shown, 2 dead in the queue state/);

  const page1 = await run(["jobs", "ls", "--state", "ready", "--limit", "1", "--json", ...flags]);
  const first = JSON.parse(page1.out);
  assert.equal(first.jobs.length, 1);
  assert.equal(first.total, 2);
  assert.ok(first.next);
  const page2 = JSON.parse(
    (await run([
      "jobs",
      "ls",
      "--state",
      "ready",
      "--limit",
      "1",
      "--cursor",
      first.next,
      "--json",
      ...flags,
    ])).out,
  );
  assert.equal(page2.jobs.length, 1);
  assert.notEqual(page2.jobs[0].id, first.jobs[0].id);
  const sms = JSON.parse((await run(["jobs", "ls", "--type", "sms", "--json", ...flags])).out);
  assert.deepEqual(sms.jobs.map((j: { type: string }) => j.type), ["sms"]);

  // get: readable fields, payload, the holder of an active job but never its token.
  const [held] = (await broker.request({ op: "claim", workerId: "holder-1", types: ["sms"] })).jobs;
  const got = await run(["jobs", "get", held.id, ...flags]);
  assert.equal(got.code, 0, got.err);
  assert.match(got.out, /^state\s+active$/m);
  assert.match(
    got.out,
    /^held by\s+holder-1, lease expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(in 30s\)$/m,
  );
  assert.match(got.out, /payload:\n {2}\{\n {4}"to": "\+1"\n {2}\}/);
  assert.ok(!got.out.includes(held.leaseToken));
  const gotJson = JSON.parse((await run(["jobs", "get", held.id, "--json", ...flags])).out);
  assert.deepEqual(Object.keys(gotJson.lease).sort(), ["expiresAt", "workerId"]);

  // retry one, then all of a type.
  const retried = await run(["jobs", "retry", dead1, ...flags]);
  assert.equal(retried.code, 0, retried.err);
  assert.equal(retried.out, `job ${dead1} is ready again (attempts reset)`);
  assert.equal((await broker.request({ op: "get", jobId: dead1 })).job.state, "ready");
  const all = await run(["jobs", "retry", "--type", "mail", ...flags]);
  assert.equal(all.out, `1 dead job(s) of type mail ready again: ${dead2}`);
  const notDead = await run(["jobs", "retry", dead1, ...flags]);
  assert.equal(notDead.code, 1);
  assert.match(notDead.err, /is ready, not dead/);

  // promote, cancel, delete (an active one only with --force).
  const report = (await broker.request({ op: "list", state: "delayed" })).jobs[0].id;
  assert.equal(
    (await run(["jobs", "promote", report, ...flags])).out,
    `job ${report} is ready now`,
  );
  assert.equal((await broker.request({ op: "get", jobId: report })).job.state, "ready");
  assert.equal((await run(["jobs", "cancel", report, ...flags])).out, `job ${report} cancelled`);
  const again = await run(["jobs", "cancel", report, ...flags]);
  assert.equal(again.code, 1);
  assert.equal(again.out, `job ${report} had already finished`);
  const refused = await run(["jobs", "delete", held.id, ...flags]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /is active .*force/);
  assert.equal(
    (await run(["jobs", "delete", held.id, "--force", ...flags])).out,
    `job ${held.id} deleted`,
  );
  const gone = await run(["jobs", "get", held.id, ...flags]);
  assert.equal(gone.code, 1);
  assert.match(gone.err, /job_not_found/);

  // Usage errors exit 2.
  assert.equal((await run(["jobs", "ls", "--state", "finished", ...flags])).code, 2);
  assert.equal((await run(["jobs", "retry", ...flags])).code, 2);
  assert.equal((await run(["jobs", "get", ...flags])).code, 2);
  assert.equal((await run(["jobs", "frob", "1", ...flags])).code, 2);
});

Deno.test("cli jobs ls --state completed continues into the archive; get reads archived jobs", async () => {
  await using q = await startBroker({ archiveMaxAgeMs: 50 });
  const { broker, flags } = q;
  const { jobs } = await broker.request({
    op: "push",
    jobs: [1, 2, 3].map((n) => ({ type: "thumb", payload: { n } })),
  });
  for (const _ of jobs) {
    const [job] = (await broker.request({ op: "claim", workerId: "w" })).jobs;
    await broker.request({ op: "complete", jobId: job.id, leaseToken: job.leaseToken });
  }
  while (broker.metrics.archiveWrites === 0) await new Promise((r) => setTimeout(r, 20));
  const ls = await run(["jobs", "ls", "--state", "completed", ...flags]);
  assert.equal(ls.code, 0, ls.err);
  for (const { id } of jobs) {
    assert.match(ls.out, new RegExp(`^${id}\\s+thumb\\s+completed \\(archived\\)`, "m"));
  }
  const paged = JSON.parse(
    (await run(["jobs", "ls", "--state", "completed", "--limit", "2", "--json", ...flags])).out,
  );
  assert.equal(paged.jobs.length, 2);
  assert.match(paged.next, /^archive:/);
  const rest = JSON.parse(
    (await run([
      "jobs",
      "ls",
      "--state",
      "completed",
      "--limit",
      "2",
      "--cursor",
      paged.next,
      "--json",
      ...flags,
    ])).out,
  );
  assert.deepEqual(
    [...paged.jobs, ...rest.jobs].map((j: { id: string }) => j.id).sort(),
    jobs.map((j) => j.id).sort(),
  );
  const got = await run(["jobs", "get", jobs[1].id, ...flags]);
  assert.match(got.out, /^state\s+completed \(archived\)$/m);
  assert.match(got.out, /"n": 2/);

  // A dead job that was archived: retry pushes a copy, once.
  const writes = broker.metrics.archiveWrites;
  const { jobs: [doomed] } = await broker.request({
    op: "push",
    jobs: [{ type: "thumb", payload: { n: 4 }, priority: 3 }],
  });
  const dead = await kill(broker, "thumb", "corrupt image");
  assert.equal(dead, doomed.id);
  while (broker.metrics.archiveWrites === writes) await new Promise((r) => setTimeout(r, 20));
  const retried = await run(["jobs", "retry", dead, ...flags]);
  assert.equal(retried.code, 0, retried.err);
  const copyId = /pushed again as job (\S+)$/.exec(retried.out)?.[1];
  assert.ok(copyId && copyId !== dead, retried.out);
  const copy = (await broker.request({ op: "get", jobId: copyId })).job;
  assert.deepEqual([copy.state, copy.type, copy.payload, copy.priority], ["ready", "thumb", {
    n: 4,
  }, 3]);
  const twice = await run(["jobs", "retry", dead, ...flags]);
  assert.equal(
    twice.out,
    `job ${dead} was archived; pushed again as job ${copyId} (it had been requeued already)`,
  );
  const completed = await run(["jobs", "retry", jobs[0].id, ...flags]);
  assert.equal(completed.code, 1);
  assert.match(completed.err, /only dead or cancelled jobs are requeued/);
});

Deno.test("cli top and stats --watch refresh with counts, types, connections and rates", async () => {
  await using q = await startBroker();
  const { broker, flags } = q;
  await broker.request({
    op: "push",
    jobs: [{ type: "mail", payload: 1 }, { type: "sms", payload: 2 }],
  });
  const top = await run(["top", "--iterations", "2", "--interval", "50ms", ...flags]);
  assert.equal(top.code, 0, top.err);
  const frames = top.out.split(/\n(?=osqueue top)/);
  assert.equal(frames.length, 2);
  assert.match(frames[0], new RegExp(`^osqueue top — broker ${broker.identity.id} \\(leader\\)`));
  assert.match(frames[0], /^jobs\s+ready 2\s+delayed 0\s+active 0/m);
  assert.match(frames[0], /^TYPE\s+READY\s+DELAYED\s+ACTIVE\s+DEAD\s+COMPLETED\s+CANCELLED$/m);
  assert.match(frames[0], /^mail\s+1\s+0\s+0\s+0\s+0\s+0$/m);
  assert.match(frames[0], /^connections\s+0$/m);
  assert.match(frames[1], /^rates\s+pushed 0\/s\s+completed 0\/s\s+failed 0\/s$/m);

  const stats = await run(["stats", ...flags]);
  assert.match(stats.out, /^totals\s+pushed 2\s+completed 0/m);
  assert.match(stats.out, /^sms\s+1$/m);
  const watched = await run([
    "stats",
    "--watch",
    "--iterations",
    "2",
    "--interval",
    "50ms",
    ...flags,
  ]);
  assert.equal(watched.out.match(/^jobs\s+ready 2/gm)?.length, 2);
  // An older broker without the dashboard routes: top falls back to the counters.
  await using plain = await startBroker({ operator: false });
  const fallback = await run(["top", "--iterations", "1", ...plain.flags]);
  assert.equal(fallback.code, 0, fallback.err);
  assert.match(fallback.out, /^jobs\s+ready 0/m);
});

Deno.test("cli push --file: every line checked first, pushed in batches with progress", async () => {
  await using q = await startBroker();
  const { broker, flags } = q;
  await using dir = await tempDir();
  const bad = `${dir.path}/bad.jsonl`;
  await Deno.writeTextFile(bad, '{"type":"a","payload":1}\n{"type":"a", payload:2}\n');
  const refused = await run(["push", "--file", bad, ...flags]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /bad\.jsonl:2: not valid JSON/);
  assert.equal((await broker.request({ op: "stats" })).totals.pushed, 0, "nothing pushed");
  const noType = `${dir.path}/notype.jsonl`;
  await Deno.writeTextFile(noType, '{"payload":1}\n');
  assert.match(
    (await run(["push", "--file", noType, ...flags])).err,
    /notype\.jsonl:1: "type" is missing/,
  );

  const good = `${dir.path}/jobs.jsonl`;
  const lines = Array.from(
    { length: 1200 },
    (_, n) => JSON.stringify({ payload: { n }, priority: n % 3 }),
  );
  lines.splice(10, 0, "", "# a comment", JSON.stringify({ type: "other", payload: "x" }));
  await Deno.writeTextFile(good, lines.join("\n") + "\n");
  const pushed = await run(["push", "--file", good, "--type", "bulk", ...flags]);
  assert.equal(pushed.code, 0, pushed.err);
  assert.match(pushed.out, /^pushed 1,201 job\(s\) in \S+$/);
  assert.deepEqual(pushed.err.split("\n").map((line) => line.replace(/ \S+ jobs\/s$/, "")), [
    "pushed 500/1,201 (41%)",
    "pushed 1,000/1,201 (83%)",
    "pushed 1,201/1,201 (100%)",
  ]);
  const stats = await broker.request({ op: "stats" });
  assert.equal(stats.totals.pushed, 1201);
  assert.deepEqual(stats.byType, { bulk: 1200, other: 1 });
});

Deno.test("cli paper cuts: URLs without scheme, unreachable brokers, --delay units, --data with --storage", async () => {
  const noScheme = await run(["stats", "--url", "localhost:8080"]);
  assert.equal(noScheme.code, 1);
  assert.match(
    noScheme.err,
    /--url: "localhost:8080" has no scheme; write it like http:\/\/localhost:8080/,
  );
  const port = freePort();
  const down = await run(["jobs", "ls", "--url", `http://127.0.0.1:${port}`]);
  assert.equal(down.code, 1);
  assert.match(
    down.err,
    new RegExp(
      `cannot reach the broker at http://127\\.0\\.0\\.1:${port} \\(GET /v1/jobs\\): connection refused`,
    ),
  );
  const delay = await run([
    "push",
    "--type",
    "t",
    "--delay",
    "5",
    "--url",
    `http://127.0.0.1:${port}`,
  ]);
  assert.equal(delay.code, 1);
  assert.match(
    delay.err,
    /--delay: expected a duration with a unit, got "5": write 5ms, 5s, 5m or 5h/,
  );
  await using dir = await tempDir();
  const both = await run(["broker", "--data", dir.path, "--storage", "s3://bucket/prefix"]);
  assert.equal(both.code, 2);
  assert.match(both.err, /give --data DIR or --storage s3:\/\/bucket\/prefix, not both/);
});

Deno.test("cli broker: 'address in use' names the address; nothing listens when the storage fails", async () => {
  await using dir = await tempDir();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  try {
    const busy = await run(["broker", "--listen", `127.0.0.1:${port}`, "--data", dir.path]);
    assert.equal(busy.code, 1);
    assert.match(
      busy.err,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`),
    );
  } finally {
    listener.close();
  }
  // --data names a file, not a directory: the broker cannot start; no "listening"/"leader" line.
  const file = `${dir.path}/not-a-dir`;
  await Deno.writeTextFile(file, "x");
  const child = spawnDeno(["cli/main.ts", "broker", "--listen", "127.0.0.1:0", "--data", file], {
    name: "broken-storage",
  });
  const status = await child.status;
  assert.equal(status.code, 1, child.output());
  assert.ok(!/listening|leader on/.test(child.stdout.lines.join("\n")), child.output());
  assert.match(child.stderr.lines.join("\n"), /osqueue broker: /);
});

Deno.test("cli: --help works without any permission; broker logs JSON lines with --log-format json", async () => {
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", new URL("./main.ts", import.meta.url).pathname, "jobs", "--help"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(help.stderr);
  assert.equal(help.code, 0, stderr);
  assert.match(new TextDecoder().decode(help.stdout), /^osqueue jobs — /);

  await using dir = await tempDir();
  await using child = spawnDeno([
    "cli/main.ts",
    "broker",
    "--listen",
    "127.0.0.1:0",
    "--data",
    dir.path,
    "--identity",
    "json-logger",
    "--log-format",
    "json",
    "--log-level",
    "debug",
  ], { name: "json-broker" });
  const leaderLine = await child.stdout.waitFor(/^\{.*"msg":"broker json-logger leader on /);
  const record = JSON.parse(leaderLine.input!);
  assert.equal(record.level, "info");
  assert.match(record.time, /^\d{4}-\d\d-\d\dT/);
  const url = /leader on (http:\/\/\S+)/.exec(record.msg)![1];
  // A WebSocket connection is a debug line on stdout.
  const socket = new WebSocket(url.replace("http", "ws") + "/ws");
  await new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
  const open = await child.stdout.waitFor(/"msg":"ws#\d+: open"/);
  assert.equal(JSON.parse(open.input!).level, "debug");
  socket.close();
  for (const text of child.stdout.lines) JSON.parse(text);
  child.process.kill("SIGTERM");
  assert.equal((await child.status).code, 0, child.output());
});
