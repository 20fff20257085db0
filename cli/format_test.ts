import assert from "node:assert/strict";
import { formatAgo, formatDuration, formatTime, table } from "./format.ts";

Deno.test("formatDuration: readable units", () => {
  assert.equal(formatDuration(850), "850ms");
  assert.equal(formatDuration(1500), "1.5s");
  assert.equal(formatDuration(42_000), "42s");
  assert.equal(formatDuration(200_000), "3m 20s");
  assert.equal(formatDuration(7_500_000), "2h 5m");
  assert.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
  assert.equal(formatDuration(-1500), "-1.5s");
});

Deno.test("formatAgo and formatTime", () => {
  const now = Date.UTC(2026, 10, 30, 19, 40, 0);
  assert.equal(formatAgo(now - 200_000, now), "3m 20s ago");
  assert.equal(formatAgo(now + 5_000, now), "in 5s");
  assert.equal(formatAgo(now - 300, now), "now");
  assert.equal(formatTime(now - 60_000, now), "2026-11-30 19:39:00Z (1m ago)");
  assert.equal(formatTime(undefined, now), "-");
});

Deno.test("table: headers, padding, right-aligned numbers, missing cells", () => {
  assert.equal(
    table(["id", { header: "n", right: true }, "note"], [["a", 1, "x y"], ["bbb", 100, undefined]]),
    ["ID     N  NOTE", "a      1  x y", "bbb  100  -"].join("\n"),
  );
});
