/**
 * Store suite: latency of a conditional PUT (`If-Match` on the previous ETag,
 * one at a time) per backend and body size.
 *
 * @module
 */
import { type BackendName, openStore, type S3Settings } from "./backends.ts";
import type { ProgressLog, Section } from "./report.ts";
import { formatBytes, formatNumber, summarize } from "./stats.ts";

/** Options of {@linkcode runStoreSuite}. */
export interface StoreSuiteOptions {
  /** The backends to measure. */
  backends: BackendName[];
  /** Body sizes in bytes (default 1 KB, 100 KB, 1 MB). */
  sizes?: number[];
  /** Most puts per backend and size (default 500). */
  maxPuts?: number;
  /** Stop a cell after this long, ms, once `minPuts` are done (default 2000). */
  maxMs?: number;
  /** Fewest puts per cell (default 20). */
  minPuts?: number;
  /** Unmeasured puts first (default 5). */
  warmup?: number;
  /** S3 settings, for the `s3` backend. */
  s3?: S3Settings;
  /** Progress lines. */
  log?: ProgressLog;
}

/** One measured cell of the store suite. */
export interface StoreResult {
  /** Which backend. */
  backend: BackendName;
  /** Body size, bytes. */
  bytes: number;
  /** Puts measured. */
  puts: number;
  /** Median latency, ms. */
  p50: number;
  /** 99th percentile latency, ms. */
  p99: number;
  /** Mean latency, ms. */
  mean: number;
}

/** The default body sizes: 1 KB, 100 KB, 1 MB. */
export const DEFAULT_SIZES: readonly number[] = [1_000, 100_000, 1_000_000];

/** Measures conditional-put latency; returns the raw results and a printable section. */
export async function runStoreSuite(
  options: StoreSuiteOptions,
): Promise<{ results: StoreResult[]; section: Section }> {
  const sizes = options.sizes ?? [...DEFAULT_SIZES];
  const maxPuts = options.maxPuts ?? 500;
  const minPuts = options.minPuts ?? 20;
  const maxMs = options.maxMs ?? 2000;
  const warmup = options.warmup ?? 5;
  const log = options.log ?? (() => {});
  const results: StoreResult[] = [];
  for (const backend of options.backends) {
    const opened = await openStore(backend, { label: "store", s3: options.s3 });
    try {
      for (const bytes of sizes) {
        const body = new Uint8Array(bytes);
        crypto.getRandomValues(body.subarray(0, Math.min(bytes, 65_536)));
        const key = `bench/put-${bytes}`;
        let etag = await opened.store.put(key, body, { condition: { ifNoneMatch: "*" } });
        const samples: number[] = [];
        const started = performance.now();
        for (let i = 0; i < warmup + maxPuts; i++) {
          if (i >= warmup + minPuts && performance.now() - started > maxMs) break;
          body[i % body.length] ^= 0xff; // a new body each time
          const t0 = performance.now();
          etag = await opened.store.put(key, body, { condition: { ifMatch: etag } });
          const elapsed = performance.now() - t0;
          if (i >= warmup) samples.push(elapsed);
        }
        const summary = summarize(samples);
        results.push({
          backend,
          bytes,
          puts: summary.count,
          p50: summary.p50,
          p99: summary.p99,
          mean: summary.mean,
        });
        log(
          `store ${backend} ${formatBytes(bytes)}: p50 ${formatNumber(summary.p50, 3)} ms ` +
            `(${summary.count} puts)`,
        );
      }
    } finally {
      await opened.cleanup();
    }
  }
  const section: Section = {
    title: "Store: conditional PUT latency",
    headers: ["backend", "body", "puts", "p50 ms", "p99 ms", "mean ms"],
    rows: results.map((r) => [
      r.backend,
      formatBytes(r.bytes),
      String(r.puts),
      formatNumber(r.p50, 3),
      formatNumber(r.p99, 3),
      formatNumber(r.mean, 3),
    ]),
    notes: [
      "One `put(key, body, {ifMatch: <previous etag>})` at a time on one key; " +
      `${warmup} warm-up puts; at most ${maxPuts} puts or ${maxMs} ms per cell (at least ${minPuts}).`,
      "memory: in-process map (copies the body); directory: temp file + fsync, flock, " +
      "re-hash of the current file, rename, directory fsync; s3: PutObject with If-Match.",
    ],
  };
  return { results, section };
}
