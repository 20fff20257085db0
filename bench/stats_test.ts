import assert from "node:assert/strict";
import { formatBytes, formatNumber, markdownTable, median, quantile, summarize } from "./stats.ts";

Deno.test("quantile uses the nearest rank", () => {
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(quantile(sorted, 0.5), 50);
  assert.equal(quantile(sorted, 0.99), 99);
  assert.equal(quantile(sorted, 1), 100);
  assert.equal(quantile([7], 0.99), 7);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

Deno.test("summarize sorts a copy and computes p50, p99, mean and max", () => {
  const samples = [5, 1, 4, 2, 3];
  const summary = summarize(samples);
  assert.deepEqual(samples, [5, 1, 4, 2, 3]);
  assert.deepEqual(summary, { count: 5, p50: 3, p99: 5, mean: 3, max: 5 });
  assert.ok(Number.isNaN(summarize([]).mean));
});

Deno.test("median averages the middle pair", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("formatNumber and formatBytes", () => {
  assert.equal(formatNumber(15911.4), "15,911");
  assert.equal(formatNumber(12.34), "12.3");
  assert.equal(formatNumber(0.1234, 3), "0.123");
  assert.equal(formatNumber(0), "0");
  assert.equal(formatNumber(NaN), "—");
  assert.equal(formatBytes(1_000), "1.0 KB");
  assert.equal(formatBytes(20_770_000), "20.77 MB");
  assert.equal(formatBytes(12), "12 B");
});

Deno.test("markdownTable escapes pipes", () => {
  assert.equal(
    markdownTable(["a", "b"], [["1", "x|y"]]),
    "| a | b |\n| --- | --- |\n| 1 | x\\|y |",
  );
});
