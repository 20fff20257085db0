/**
 * The deterministic simulator in CI: a fixed, bounded batch of seeds (see
 * `tests/sim/`), every invariant checked; a failing seed prints its replay
 * command (`deno task sim --seed N`) and the last events. Also checks that
 * a seed replays exactly and that the virtual clock behaves.
 *
 * `OSQUEUE_SIM_SEEDS` and `OSQUEUE_SIM_WS_SEEDS` change the batch sizes
 * (default 600 seeds with direct calls, 200 with the real WebSocket client).
 */
import assert from "node:assert/strict";
import { formatFailure, runSimulation } from "./sim/simulation.ts";
import { Scheduler, SimNode } from "./sim/scheduler.ts";
import { runRuntimeWorker, wsTransport } from "./sim/transport.ts";

const SEEDS = Number(Deno.env.get("OSQUEUE_SIM_SEEDS") ?? 600);
const WS_SEEDS = Number(Deno.env.get("OSQUEUE_SIM_WS_SEEDS") ?? 200);

Deno.test(`simulation: ${SEEDS} seeds of crashes, freezes and store faults keep every invariant`, async () => {
  const started = performance.now();
  for (let seed = 1; seed <= SEEDS; seed++) {
    const result = await runSimulation({ seed });
    if (result.failure !== undefined) assert.fail(formatFailure(result));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${SEEDS} seeds in ${seconds.toFixed(1)} s (${(SEEDS / seconds).toFixed(1)} seeds/s)`,
  );
});

Deno.test(`simulation: ${WS_SEEDS} seeds with the real WebSocket client, sessions and Worker runtime keep every invariant`, async () => {
  const started = performance.now();
  for (let seed = 1; seed <= WS_SEEDS; seed++) {
    const result = await runSimulation({
      seed,
      transport: wsTransport,
      runtimeWorker: runRuntimeWorker,
    });
    if (result.failure !== undefined) assert.fail(formatFailure(result, " --transport ws"));
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${WS_SEEDS} seeds in ${seconds.toFixed(1)} s (${(WS_SEEDS / seconds).toFixed(1)} seeds/s)`,
  );
});

Deno.test("simulation: a seed replays exactly (same trace, same counters)", async () => {
  const first = await runSimulation({ seed: 4242, traceLines: 400 });
  const second = await runSimulation({ seed: 4242, traceLines: 400 });
  assert.equal(first.failure, undefined);
  assert.deepEqual(second.trace, first.trace);
  assert.deepEqual(second.stats, first.stats);
  assert.ok(first.stats.records > 50, `only ${first.stats.records} log records`);
  const other = await runSimulation({ seed: 4243, traceLines: 400 });
  assert.notDeepEqual(other.trace, first.trace);
  const wsOptions = { traceLines: 400, transport: wsTransport, runtimeWorker: runRuntimeWorker };
  const ws = await runSimulation({ seed: 4242, ...wsOptions });
  const wsAgain = await runSimulation({ seed: 4242, ...wsOptions });
  assert.deepEqual(wsAgain.trace, ws.trace);
  assert.deepEqual(wsAgain.stats, ws.stats);
});

Deno.test("scheduler: timers run in virtual-time order; crashed nodes' timers never, frozen ones later", async () => {
  const scheduler = new Scheduler(1000);
  const ran: string[] = [];
  const a = new SimNode("a");
  const b = new SimNode("b");
  scheduler.after(30, () => ran.push(`a30@${scheduler.now}`), a);
  scheduler.after(10, () => ran.push(`b10@${scheduler.now}`), b);
  scheduler.after(10, () => ran.push(`a10@${scheduler.now}`), a);
  const cancelled = scheduler.after(5, () => ran.push("cancelled"), a);
  scheduler.cancel(cancelled);
  scheduler.after(20, () => {
    b.crashed = true;
    a.frozenUntil = scheduler.now + 100;
  });
  scheduler.after(25, () => ran.push("b25"), b);
  // A promise chain started by a timer settles before the next timer runs.
  scheduler.after(21, () => {
    Promise.resolve().then(() => Promise.resolve()).then(() => ran.push(`chain@${scheduler.now}`));
  });
  scheduler.after(22, () => ran.push(`x22@${scheduler.now}`));
  assert.equal(await scheduler.run(10_000), false);
  assert.deepEqual(ran, ["b10@1010", "a10@1010", "chain@1021", "x22@1022", "a30@1120"]);
});
