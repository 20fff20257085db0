/**
 * Runs simulations from the command line:
 *
 * ```sh
 * deno task sim                      # 100 seeds from 1
 * deno task sim --seeds 5000         # more seeds
 * deno task sim --seed 1234          # replay one seed, with its trace
 * deno task sim --seeds 500 --from 9000 --transport ws
 * deno task sim --seed 1234 --job 4e  # also every log record that touched job 4e
 * ```
 *
 * Exits 1 on the first failing seed, after printing its replay command and trace.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatFailure, runSimulation, type SimulationResult } from "./simulation.ts";
import { runRuntimeWorker, wsTransport } from "./transport.ts";
import type { StoreWorld } from "./sim_store.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seed: { type: "string" },
    seeds: { type: "string", default: "100" },
    from: { type: "string", default: "1" },
    transport: { type: "string", default: "direct" },
    trace: { type: "string", default: "50" },
    verbose: { type: "boolean", default: false },
    job: { type: "string" },
  },
});

const transport = values.transport === "ws" ? wsTransport : undefined;
if (values.transport !== "ws" && values.transport !== "direct") {
  console.error(`--transport must be direct or ws, got ${values.transport}`);
  Deno.exit(2);
}
const traceLines = Number(values.trace);
const seeds: number[] = values.seed !== undefined
  ? [Number(values.seed)]
  : Array.from({ length: Number(values.seeds) }, (_, i) => Number(values.from) + i);

const started = performance.now();
const totals: Record<string, number> = {};
let virtualMs = 0;
for (const seed of seeds) {
  const onEnd = values.job === undefined
    ? undefined
    : (world: StoreWorld) => console.log(jobHistory(world, values.job!).join("\n"));
  const result: SimulationResult = await runSimulation({
    seed,
    traceLines,
    transport,
    runtimeWorker: transport === undefined ? undefined : runRuntimeWorker,
    onEnd,
  });
  virtualMs += result.stats.virtualMs;
  for (const [key, value] of Object.entries(summarise(result))) {
    totals[key] = (totals[key] ?? 0) + value;
  }
  if (result.failure !== undefined) {
    console.log(formatFailure(result, values.transport === "ws" ? " --transport ws" : ""));
    Deno.exit(1);
  }
  if (values.verbose || values.seed !== undefined) {
    console.log(`seed ${seed} ok: ${JSON.stringify(result.stats)}`);
    if (values.seed !== undefined) console.log(result.trace.join("\n"));
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `${seeds.length} seeds ok in ${seconds.toFixed(1)} s (${
    (seeds.length / seconds).toFixed(1)
  } seeds/s, ${(virtualMs / 1000 / seconds).toFixed(0)}× real time)`,
);
console.log(`totals: ${JSON.stringify(totals)}`);

function summarise(result: SimulationResult): Record<string, number> {
  const s = result.stats;
  return {
    records: s.records,
    crashes: s.crashes,
    restarts: s.restarts,
    freezes: s.freezes,
    storms: s.storms,
    workerDeaths: s.workerDeaths,
    takeovers: s.events["leader"] ?? 0,
    stepDowns: s.events["step-down"] ?? 0,
    conflicts: s.events["conflict"] ?? 0,
    ambiguousWrites: s.events["ambiguous-write"] ?? 0,
    checkpoints: s.events["checkpoint"] ?? 0,
    gc: s.events["gc"] ?? 0,
    ...Object.fromEntries(Object.entries(s.storeFaults).map(([k, v]) => [`store.${k}`, v])),
    pushesAcked: s.acks["push"] ?? 0,
    completesAcked: s.acks["complete"] ?? 0,
    jobs: s.jobs,
  };
}

/** Every landed log record that touched job `id`, in landing order. */
function jobHistory(world: StoreWorld, id: string): string[] {
  const lines = [`log records that touched job ${id} (in landing order):`];
  for (const record of world.records) {
    const hits: string[] = [];
    const added = record.effects.add.find((job) => job.id === id);
    if (added !== undefined) hits.push(`add ${JSON.stringify(added)}`);
    const set = record.effects.set.find((job) => job.id === id);
    if (set !== undefined) hits.push(`set ${JSON.stringify(set)}`);
    if (record.effects.del.includes(id)) hits.push("del");
    if (record.archived.includes(id)) hits.push("archived");
    if (hits.length === 0) continue;
    const at = ((record.landedAt - Date.UTC(2026, 0, 1)) / 1000).toFixed(3);
    lines.push(
      `  seq ${record.seq} epoch ${record.epoch} by ${record.node} at ${at}s: ${hits.join(" ")}`,
    );
  }
  return lines;
}
