import assert from "node:assert/strict";
import { BrokerUrls } from "./broker_urls.ts";

function urls(list: string[], suspectMs = 100) {
  let now = 0;
  const brokers = new BrokerUrls({ urls: list, suspectMs, clock: () => now });
  return { brokers, advanceClock: (ms: number) => (now += ms) };
}

Deno.test("BrokerUrls: validates, drops duplicates, starts at the first", () => {
  assert.throws(() => new BrokerUrls({ urls: [], suspectMs: 1, clock: () => 0 }), {
    code: "invalid",
  });
  assert.throws(() => new BrokerUrls({ urls: ["ftp://a"], suspectMs: 1, clock: () => 0 }), {
    code: "invalid",
  });
  const { brokers } = urls(["http://a:1", "ws://a:1/ws", "http://b:1"]);
  assert.equal(brokers.count, 2);
  assert.equal(brokers.current, "http://a:1");
  assert.equal(brokers.target, "ws://a:1/ws");
});

Deno.test("BrokerUrls: advance goes round the list, skipping brokers that stopped answering", () => {
  const { brokers, advanceClock } = urls(["http://a:1", "http://b:1", "http://c:1"]);
  brokers.suspect("ws://b:1/ws");
  brokers.advance();
  assert.equal(brokers.current, "http://c:1");
  brokers.advance();
  assert.equal(brokers.current, "http://a:1");
  assert.ok(brokers.isSuspect("http://b:1"));
  // A suspect is trusted again after suspectMs, or at once after trustAll.
  advanceClock(100);
  assert.ok(!brokers.isSuspect("http://b:1"));
  brokers.suspect("ws://c:1/ws");
  brokers.trustAll();
  assert.ok(!brokers.isSuspect("http://c:1"));
});

Deno.test("BrokerUrls: point remembers its place in the list; differs compares endpoints", () => {
  const { brokers } = urls(["http://a:1", "http://b:1", "http://c:1"]);
  brokers.point("http://b:1/");
  assert.equal(brokers.current, "http://b:1/");
  brokers.advance();
  assert.equal(brokers.current, "http://c:1");
  // A URL outside the list is followed, the place in the list kept.
  brokers.point("http://leader:9");
  assert.ok(!brokers.differs("ws://leader:9/ws"));
  assert.ok(brokers.differs("http://a:1"));
  assert.ok(!brokers.differs("not a url"));
  brokers.advance();
  assert.equal(brokers.current, "http://a:1");
});
