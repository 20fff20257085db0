/**
 * Smoke test of `deno task bench --quick` on the memory and directory stores:
 * every default suite prints its table, and the cells that must hold numbers
 * do. No timing assertions.
 */
import assert from "node:assert/strict";
import { defaultBackends, parseBenchArgs } from "./main.ts";
import { formatDepth, parseDepth } from "./depth_suite.ts";

/** The rows of the markdown table under `### <title…>`, as cells. */
function tableUnder(output: string, titleStart: string): Record<string, string>[] {
  const lines = output.split("\n");
  const at = lines.findIndex((line) => line.startsWith(`### ${titleStart}`));
  assert.ok(at >= 0, `no section "${titleStart}" in:\n${output}`);
  const table = lines.slice(at + 1).filter((line, i, all) =>
    line.startsWith("|") && all.slice(0, i).every((l) => l === "" || l.startsWith("|"))
  );
  const split = (line: string) => line.slice(2, -2).split(" | ");
  const headers = split(table[0]);
  return table.slice(2).map((line) =>
    Object.fromEntries(split(line).map((cell, i) => [headers[i], cell]))
  );
}

function number(cell: string | undefined): number {
  assert.ok(cell !== undefined, "missing cell");
  return Number(cell.replaceAll(",", "").replace(/ (ms|KB|MB|B)$/, ""));
}

function assertPositive(row: Record<string, string>, columns: string[]): void {
  for (const column of columns) {
    const value = number(row[column]);
    assert.ok(
      Number.isFinite(value) && value > 0,
      `${column} = ${row[column]} in ${JSON.stringify(row)}`,
    );
  }
}

Deno.test("bench --quick prints every suite's table with numbers", async () => {
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "1" };
  delete env.OSQUEUE_S3_ENDPOINT;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      new URL("./main.ts", import.meta.url).pathname,
      "--quick",
      "--backends",
      "memory,directory",
    ],
    env,
    clearEnv: true,
  }).output();
  const output = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(output, /Machine: nproc \d+, CPU .+, .*deno \d+\.\d+\.\d+/);

  const store = tableUnder(output, "Store");
  assert.deepEqual(store.map((r) => `${r.backend} ${r.body}`), [
    "memory 1.0 KB",
    "memory 100.0 KB",
    "memory 1.00 MB",
    "directory 1.0 KB",
    "directory 100.0 KB",
    "directory 1.00 MB",
  ]);
  for (const row of store) assertPositive(row, ["puts", "p50 ms", "p99 ms", "mean ms"]);

  const broker = tableUnder(output, "Broker");
  assert.equal(broker.length, 2);
  for (const row of broker) {
    assertPositive(row, [
      "commits/s",
      "ops/commit",
      "requests/s",
      "record size",
      "encode ms/commit",
    ]);
    assert.equal(row.errors, "0");
  }

  const w1 = tableUnder(output, "W1");
  assert.deepEqual(w1.map((r) => r.store), ["memory", "directory"]);
  for (const row of w1) {
    assertPositive(row, [
      "enqueue jobs/s",
      "drain jobs/s",
      "enqueue writes/1k jobs",
      "drain ops/commit",
    ]);
  }

  const w2 = tableUnder(output, "W2");
  assert.deepEqual(w2.map((r) => r.store), ["memory", "directory"]);
  for (const row of w2) {
    assert.equal(row.handled, row.jobs);
    assertPositive(row, ["sent jobs/s", "p50 ms", "p99 ms", "writes/1k jobs", "ops/commit"]);
  }
});

Deno.test("bench depth --quick runs the CLI broker at a tiny depth and fills every column", async () => {
  const s3 = (Deno.env.get("OSQUEUE_S3_ENDPOINT") ?? "") !== "";
  const backends = s3 ? ["directory", "s3"] : ["directory"];
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      new URL("./main.ts", import.meta.url).pathname,
      "depth",
      "--quick",
      "--depths",
      "1500",
      "--backends",
      backends.join(","),
    ],
    env: { NO_COLOR: "1" },
  }).output();
  const output = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(output, /Machine: nproc \d+, CPU .+load average at start \d/);
  const rows = tableUnder(output, "Depth");
  assert.deepEqual(rows.map((r) => `${r.pending} ${r.store}`), backends.map((b) => `1.5k ${b}`));
  for (const row of rows) {
    assert.equal(row.error, "", `the run failed: ${row.error}`);
    assertPositive(row, [
      "preload jobs/s",
      "push→ack p50 ms",
      "push→ack p99 ms",
      "64 clients req/s",
      "commits/s",
      "req/commit",
      "RSS MB",
      "peak RSS MB",
      "store B/op",
      "× op size",
      "restart ms (TERM)",
      "restart ms (KILL)",
    ]);
    assert.ok(number(row["peak RSS MB"]) >= number(row["RSS MB"]), JSON.stringify(row));
    // Each client has one request in flight and every request changes the queue, so one
    // commit can carry at most 64 of them.
    assert.ok(number(row["req/commit"]) <= 64, JSON.stringify(row));
    if (row.store === "directory") assertPositive(row, ["disk B/op"]);
    else assert.equal(row["disk B/op"], "—");
  }
});

Deno.test("parseDepth and formatDepth: 1000, 10k, 1M", () => {
  assert.equal(parseDepth("1000"), 1_000);
  assert.equal(parseDepth("10k"), 10_000);
  assert.equal(parseDepth("2.5K"), 2_500);
  assert.equal(parseDepth(" 1M "), 1_000_000);
  for (const bad of ["", "0", "-1", "1G", "1.5", "k", "1e3"]) {
    assert.throws(() => parseDepth(bad), /positive whole number/, bad);
  }
  assert.deepEqual([1_000, 10_000, 1_500, 100_000, 1_000_000, 2_500_000, 999].map(formatDepth), [
    "1k",
    "10k",
    "1.5k",
    "100k",
    "1M",
    "2.5M",
    "999",
  ]);
});

Deno.test("parseBenchArgs: suites, backends, runs and errors", () => {
  const all = parseBenchArgs([]);
  assert.deepEqual(all.suites, ["store", "broker", "w1", "w2"]);
  assert.equal(all.quick, false);
  assert.equal(all.runs, 3);
  assert.equal(parseBenchArgs(["--quick"]).runs, 1);
  const some = parseBenchArgs([
    "--suite",
    "w2,store",
    "--suite",
    "w2",
    "--quick",
    "--runs",
    "3",
    "--backends",
    "directory,s3",
    "--json",
    "out.json",
  ]);
  assert.deepEqual(some.suites, ["w2", "store"]);
  assert.equal(some.quick, true);
  assert.equal(some.runs, 3);
  assert.deepEqual(some.backends, ["directory", "s3"]);
  assert.equal(some.json, "out.json");
  assert.throws(() => parseBenchArgs(["--suite", "nope"]), /unknown suite "nope"/);
  assert.throws(() => parseBenchArgs(["--backends", "ftp"]), /unknown backend "ftp"/);
  assert.throws(() => parseBenchArgs(["--runs", "0"]), /--runs/);
  assert.throws(() => parseBenchArgs(["--bogus"]));
  const depth = parseBenchArgs(["depth", "--depths", "1k,100k,1M", "--seconds", "2.5"]);
  assert.deepEqual(depth.suites, ["depth"]);
  assert.deepEqual(depth.depths, [1_000, 100_000, 1_000_000]);
  assert.equal(depth.seconds, 2.5);
  assert.throws(() => parseBenchArgs(["depth", "--depths", "1k,lots"]), /"lots"/);
  assert.throws(() => parseBenchArgs(["depth", "--seconds", "0"]), /--seconds/);
  assert.throws(() => parseBenchArgs(["nope"]), /unknown suite "nope"/);
});

Deno.test("defaultBackends: S3 only when configured; W1/W2 skip memory", () => {
  assert.deepEqual(defaultBackends("store", false), ["memory", "directory"]);
  assert.deepEqual(defaultBackends("store", true), ["memory", "directory", "s3"]);
  assert.deepEqual(defaultBackends("w1", true), ["directory", "s3"]);
  assert.deepEqual(defaultBackends("depth", false), ["directory"]);
});
