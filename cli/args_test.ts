import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import { parseCount, parseDuration, parseListen, parseSize } from "./args.ts";

Deno.test("parseDuration: units; 0 needs none", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("1h"), 3_600_000);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration(" 2s "), 2_000);
});

Deno.test("parseDuration: fractions are rounded to whole milliseconds", () => {
  assert.equal(parseDuration("1.5s"), 1_500);
  assert.equal(parseDuration("0.25m"), 15_000);
  assert.equal(parseDuration("0.0004s"), 0);
  assert.equal(parseDuration("2.6ms"), 3);
});

Deno.test("parseDuration: rejects what is not a duration, naming the option", () => {
  for (const bad of ["", "s", "-1s", "1d", "1 s", "1.s", "ten", "1e3", "1s2"]) {
    assert.throws(() => parseDuration(bad, "--heartbeat-timeout"), (error: unknown) => {
      assert.ok(error instanceof InvalidError, `${JSON.stringify(bad)}: ${error}`);
      assert.equal(error.code, "invalid");
      assert.match(error.message, /^--heartbeat-timeout: expected a duration/);
      return true;
    });
  }
});

Deno.test("parseListen: :port, host:port, bare port, IPv6", () => {
  assert.deepEqual(parseListen(":8080"), { hostname: "0.0.0.0", port: 8080 });
  assert.deepEqual(parseListen("8080"), { hostname: "0.0.0.0", port: 8080 });
  assert.deepEqual(parseListen("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
  assert.deepEqual(parseListen("localhost:65535"), { hostname: "localhost", port: 65535 });
  assert.deepEqual(parseListen("[::1]:9000"), { hostname: "::1", port: 9000 });
  assert.deepEqual(parseListen(" :80 "), { hostname: "0.0.0.0", port: 80 });
});

Deno.test("parseListen: rejects bad ports and addresses", () => {
  for (
    const bad of ["", ":", "host", "host:", ":65536", ":99999", ":-1", ":80a", "1.2.3.4:123456"]
  ) {
    assert.throws(() => parseListen(bad), (error: unknown) => {
      assert.ok(error instanceof InvalidError, `${JSON.stringify(bad)}: ${error}`);
      assert.match(error.message, /^--listen: expected \[host\]:port/);
      return true;
    });
  }
});

Deno.test("parseDuration: a number without a unit is refused, with the ways to write it", () => {
  assert.throws(
    () => parseDuration("5", "--delay"),
    /^InvalidError: --delay: expected a duration with a unit, got "5": write 5ms, 5s, 5m or 5h$/,
  );
  assert.throws(() => parseDuration("250"), InvalidError);
});

Deno.test("parseSize and parseCount: units, and clear errors", () => {
  assert.equal(parseSize("1048576"), 1_048_576);
  assert.equal(parseSize("500MB"), 500_000_000);
  assert.equal(parseSize("2GiB"), 2 * 1024 ** 3);
  assert.equal(parseSize("1.5 kb"), 1500);
  assert.throws(
    () => parseSize("lots", "--max-state-bytes"),
    /--max-state-bytes: "lots" is not a size/,
  );
  assert.equal(parseCount("3"), 3);
  assert.throws(() => parseCount("0", "--max-pending-jobs"), /not a whole number/);
});
