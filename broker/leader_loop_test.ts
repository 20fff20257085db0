import assert from "node:assert/strict";
import { MemoryStore } from "../storage/memory_store.ts";
import { FaultyStore } from "../storage/faulty_store.ts";
import { ManualClock } from "../testing/manual_clock.ts";
import type { PushOperation } from "../protocol/operations.ts";
import { Broker, type BrokerEvent } from "./broker.ts";

const push = (n: number): PushOperation => ({ op: "push", jobs: [{ type: "t", payload: n }] });

/**
 * A broker on a manual clock that lingers up to 50 ms, and the sizes of its
 * commits; `onCommit` runs after each commit that carried requests.
 */
async function lingeringBroker(store = new FaultyStore(new MemoryStore()), onCommit = () => {}) {
  const clock = new ManualClock(1_000_000);
  const commits: number[] = [];
  const broker = new Broker({
    store,
    clock,
    identity: { id: "a", url: "http://a" },
    maxLingerMs: 50,
    log: (event: BrokerEvent) => {
      if (event.event === "commit" && typeof event.requests === "number" && event.requests > 0) {
        commits.push(event.requests);
        onCommit();
      }
    },
  });
  await clock.settle(broker.start());
  return { broker, clock, commits, store };
}

Deno.test("linger: callers that are already back are not counted twice (no wait for requests nobody sends)", async () => {
  const { broker, clock, commits } = await lingeringBroker();
  // Eight callers in a closed loop: each sends its next request as soon as the first is answered.
  const rounds = Array.from(
    { length: 8 },
    (_, i) => broker.request(push(i)).then(() => broker.request(push(100 + i))),
  );
  const started = clock.now();
  await clock.settle(Promise.all(rounds));
  assert.deepEqual(commits, [8, 8]);
  assert.ok(
    clock.now() - started < 50,
    `the second round went out at once, not after the linger ran out (${clock.now() - started} ms)`,
  );
  await clock.settle(broker.stop());
});

Deno.test("linger: requests queued during a write wait for the answered callers, and both share one write", async () => {
  const { broker, clock, commits, store } = await lingeringBroker();
  // Group A's write is held; group B arrives meanwhile.
  store.pause("put");
  const groupA = Array.from({ length: 4 }, (_, i) => broker.request(push(i)));
  await clock.runUntil(() => store.stats.putsInFlight === 1);
  const groupB = Array.from({ length: 4 }, (_, i) => broker.request(push(10 + i)));
  // A's callers come back 5 ms (clock time) after their answers.
  const againA = groupA.map((answer, i) =>
    answer.then(async () => {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 5));
      return await broker.request(push(20 + i));
    })
  );
  store.resume("put");
  await clock.settle(Promise.all([...groupB, ...againA]));
  assert.deepEqual(commits, [4, 8], "B waited for A's next requests and went with them");
  await clock.settle(broker.stop());
});

Deno.test("linger: after three lingers in a row ran out, the loop stops lingering for a while", async () => {
  const held: (() => void)[] = [];
  // Like a client whose socket holds small writes back until the broker sends
  // something: callers 1-7 come back only once the next commit lands.
  const { broker, clock, commits } = await lingeringBroker(undefined, () => {
    for (const release of held.splice(0)) queueMicrotask(release);
  });
  let finished = 0;
  const caller = async (i: number) => {
    for (let round = 0; round < 20; round++) {
      await broker.request(push(i * 100 + round));
      if (round < 19) await new Promise<void>((resolve) => held.push(resolve));
    }
    finished++;
  };
  // Caller 0 comes back at once, every time, until the others are done.
  const eager = async () => {
    for (let n = 0; finished < 7; n++) await broker.request(push(n));
  };
  const started = clock.now();
  await clock.settle(Promise.all([eager(), ...Array.from({ length: 7 }, (_, i) => caller(i + 1))]));
  const elapsed = clock.now() - started;
  // Three 50 ms lingers ran out; then none: not one per round (20 × 50 ms).
  assert.ok(elapsed >= 150 && elapsed < 250, `${elapsed} ms of lingering (${commits.join(",")})`);
  await clock.settle(broker.stop());
});
