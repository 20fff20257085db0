/**
 * Benchmarks of the pure queue state: encode/decode and applyBatch with
 * backlogs of 1k, 10k and 100k jobs (payload `{id, message}` with a 100-byte
 * string, as in the peers' workloads).
 *
 * Run: `deno bench bench/state_bench.ts`
 *
 * @module
 */
import { applyBatch, type ApplyContext, type BrokerOperation } from "../core/apply.ts";
import {
  createState,
  decodeState,
  encodeState,
  type QueueState,
  withCommit,
} from "../core/state.ts";
import type { ClaimedJob, PushJob } from "../protocol/operations.ts";

const SIZES = [1_000, 10_000, 100_000];
const NOW = 1_700_000_000_000;
const MESSAGE = "x".repeat(100);
const LEADER = { leader: { id: "bench", url: "http://127.0.0.1:0" }, epoch: 1 };

let tokens = 0;
function context(now = NOW): ApplyContext {
  return {
    now,
    defaultLeaseMs: 30_000,
    newToken: () => `token-${++tokens}`,
    random: () => 0.5,
  };
}

function pushJobs(from: number, count: number): PushJob[] {
  return Array.from({ length: count }, (_, i) => ({
    type: i % 4 === 0 ? "report" : "email",
    payload: { id: from + i, message: MESSAGE },
  }));
}

/** A state holding `size` ready jobs (plus a few active ones). */
function backlog(size: number): QueueState {
  let state = createState();
  for (let pushed = 0; pushed < size; pushed += 1000) {
    const count = Math.min(1000, size - pushed);
    state = applyBatch(state, [{ op: "push", jobs: pushJobs(pushed, count) }], context()).state;
  }
  state = applyBatch(state, [{ op: "claim", workerId: "w", max: 100 }], context()).state;
  return withCommit(state, LEADER);
}

function bytes(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

for (const size of SIZES) {
  const base = backlog(size);
  const encoded = encodeState(base);
  const group = `${size / 1000}k jobs`;
  const n = size >= 100_000 ? 10 : size >= 10_000 ? 50 : undefined;
  console.log(`${group}: state is ${bytes(encoded.length)}`);

  Deno.bench({
    name: `encode cold (${group})`,
    group: `encode ${group}`,
    n,
    fn(b) {
      const state = decodeState(encoded); // fresh: no cached chunk bytes
      b.start();
      encodeState(state);
      b.end();
    },
  });

  Deno.bench({
    name: `encode warm, 1 job changed (${group})`,
    group: `encode ${group}`,
    fn(b) {
      const next = applyBatch(base, [{ op: "push", jobs: pushJobs(0, 1) }], context()).state;
      b.start();
      encodeState(next);
      b.end();
    },
  });

  Deno.bench({
    name: `decode (${group})`,
    group: `decode ${group}`,
    n,
    fn() {
      decodeState(encoded);
    },
  });

  Deno.bench({
    name: `applyBatch push 100 (${group})`,
    group: `apply ${group}`,
    fn() {
      applyBatch(base, [{ op: "push", jobs: pushJobs(0, 100) }], context());
    },
  });

  Deno.bench({
    name: `applyBatch claim 100 (${group})`,
    group: `apply ${group}`,
    fn() {
      applyBatch(base, [{ op: "claim", workerId: "w", max: 100 }], context());
    },
  });

  Deno.bench({
    name: `applyBatch claim 1 by type (${group})`,
    group: `apply ${group}`,
    fn() {
      applyBatch(base, [{ op: "claim", workerId: "w", types: ["report"] }], context());
    },
  });

  // A broker tick: 16 pushes, 16 completions of the previous tick's claims,
  // the archive of the tick before's completions, a claim of 16, then the
  // commit's encode. The state stays near `size` jobs.
  let state = base;
  let claimed: ClaimedJob[] = [];
  let completed: string[] = [];
  let now = NOW;
  Deno.bench({
    name: `tick: 16 push + 16 complete + claim 16, then encode (${group})`,
    group: `tick ${group}`,
    fn() {
      now += 1;
      const operations: BrokerOperation[] = [
        { op: "archived", ids: completed },
        ...pushJobs(0, 16).map((job): BrokerOperation => ({ op: "push", jobs: [job] })),
        ...claimed.map((job): BrokerOperation => ({
          op: "complete",
          jobId: job.id,
          leaseToken: job.leaseToken,
        })),
        { op: "claim", workerId: "w", max: 16 },
      ];
      const result = applyBatch(state, operations, context(now));
      const reply = result.replies[result.replies.length - 1];
      completed = claimed.map((job) => job.id);
      claimed = reply.ok ? (reply.value as { jobs: ClaimedJob[] }).jobs : [];
      state = withCommit(result.state, LEADER);
      encodeState(state);
    },
  });
}
