import assert from "node:assert/strict";
import { brokerEventLevel, Logger, parseLogFormat, parseLogLevel, serverLineLevel } from "./log.ts";

function capture(options: ConstructorParameters<typeof Logger>[0] = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const logger = new Logger({
    ...options,
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
    now: () => Date.UTC(2026, 10, 30, 19, 40, 0, 123),
  });
  return { logger, out, err };
}

Deno.test("Logger: info to stdout, warn and error to stderr, below the level dropped", () => {
  const { logger, out, err } = capture({ level: "info" });
  logger.debug("not shown");
  logger.info("broker b1 leader on http://127.0.0.1:1", { epoch: 3 });
  logger.warn("ambiguous-write", { commit: 7 });
  logger.error("storage-error", { error: "disk full" });
  assert.deepEqual(out, [
    "2026-11-30T19:40:00.123Z INFO  [osqueue] broker b1 leader on http://127.0.0.1:1 epoch=3",
  ]);
  assert.deepEqual(err, [
    "2026-11-30T19:40:00.123Z WARN  [osqueue] ambiguous-write commit=7",
    '2026-11-30T19:40:00.123Z ERROR [osqueue] storage-error error="disk full"',
  ]);
});

Deno.test("Logger: JSON lines with time, level, msg and the fields", () => {
  const { logger, out, err } = capture({ level: "debug", format: "json" });
  logger.debug("commit", { epoch: 1, seq: 9, ms: 4.5 });
  logger.error("tick-error", { error: "boom" });
  assert.deepEqual(out.map((line) => JSON.parse(line)), [
    { time: "2026-11-30T19:40:00.123Z", level: "debug", msg: "commit", epoch: 1, seq: 9, ms: 4.5 },
  ]);
  assert.deepEqual(JSON.parse(err[0]), {
    time: "2026-11-30T19:40:00.123Z",
    level: "error",
    msg: "tick-error",
    error: "boom",
  });
});

Deno.test("log levels of broker events and server lines; flag parsing", () => {
  assert.equal(brokerEventLevel("commit"), "debug");
  assert.equal(brokerEventLevel("takeover"), "info");
  assert.equal(brokerEventLevel("ambiguous-write"), "warn");
  assert.equal(brokerEventLevel("storage-error"), "error");
  assert.equal(serverLineLevel("ws#1: open"), "debug");
  assert.equal(serverLineLevel("ws upgrade failed: x"), "warn");
  assert.equal(parseLogLevel("warn"), "warn");
  assert.throws(
    () => parseLogLevel("loud"),
    /--log-level: expected one of debug, info, warn, error/,
  );
  assert.equal(parseLogFormat("json"), "json");
  assert.throws(() => parseLogFormat("xml"), /--log-format: expected text or json/);
});
