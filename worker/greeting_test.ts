import assert from "node:assert/strict";
import type { HelloResult } from "../protocol/wire.ts";
import { BrokerUrls } from "./broker_urls.ts";
import { helloVerdict } from "./greeting.ts";

function urls() {
  return new BrokerUrls({ urls: ["http://a:1", "http://b:1"], suspectMs: 1_000, clock: () => 0 });
}

const standby = (leaderUrl?: string): HelloResult => ({
  brokerId: "s",
  leader: false,
  ...(leaderUrl === undefined ? {} : { leaderUrl }),
});

Deno.test("hello verdict: the leader's reply, or a standby naming no other leader, keeps the connection", () => {
  const brokers = urls();
  assert.deepEqual(helloVerdict({ brokerId: "l", leader: true }, brokers, true), { kind: "use" });
  assert.deepEqual(helloVerdict(standby(), brokers, true), { kind: "use" });
  assert.deepEqual(helloVerdict(standby("http://a:1"), brokers, true), { kind: "use" }, "itself");
  assert.deepEqual(helloVerdict(standby("not a url"), brokers, true), { kind: "use" });
});

Deno.test("hello verdict: a standby naming another leader is followed while hops are left", () => {
  const brokers = urls();
  assert.deepEqual(helloVerdict(standby("http://c:1"), brokers, true), {
    kind: "follow",
    leaderUrl: "http://c:1",
  });
  assert.deepEqual(helloVerdict(standby("http://c:1"), brokers, false), { kind: "use" });
});

Deno.test("hello verdict: a standby naming a leader that stopped answering is not followed, hops or not", () => {
  const brokers = urls();
  brokers.suspect("ws://b:1/ws");
  for (const canHop of [true, false]) {
    assert.deepEqual(helloVerdict(standby("http://b:1"), brokers, canHop), {
      kind: "suspect-leader",
      leaderUrl: "http://b:1",
    });
  }
});
