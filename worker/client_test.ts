import assert from "node:assert/strict";
import {
  DisconnectedError,
  InternalError,
  JobNotFoundError,
  LeaseLostError,
  NotLeaderError,
  type OsqueueError,
  TimeoutError,
} from "../errors.ts";
import type { ClaimedJob } from "../protocol/operations.ts";
import { OsqueueClient } from "./client.ts";
import { websocketUrl } from "./connection.ts";
import { startStubServer, waitUntil, withStub } from "./_test_server.ts";

const fastReconnect = { minDelayMs: 1, maxDelayMs: 5, random: () => 0.5 };

function claimed(id: string, token = `t-${id}`): ClaimedJob {
  return {
    id,
    type: "t",
    payload: { n: id },
    attempt: 1,
    maxAttempts: 3,
    priority: 0,
    createdAt: 1,
    leaseToken: token,
    leaseExpiresAt: 2,
  };
}

Deno.test("websocketUrl maps http(s) base URLs to the /ws endpoint", () => {
  assert.equal(websocketUrl("http://h:1"), "ws://h:1/ws");
  assert.equal(websocketUrl("https://h/prefix/"), "wss://h/prefix/ws");
  assert.equal(websocketUrl("ws://h:2/ws"), "ws://h:2/ws");
  assert.throws(() => websocketUrl("ftp://h"), { code: "invalid" });
});

Deno.test("client says hello first with token and clientId, then correlates replies", async () => {
  await withStub(async (request) => {
    if (request.method !== "get") return undefined;
    const jobId = (request.params as { jobId: string }).jobId;
    // Answer out of order: "a" waits until "b" has been answered.
    if (jobId === "a") await new Promise((resolve) => setTimeout(resolve, 20));
    return { result: { job: { id: jobId } } };
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url, token: "s3cret", clientId: "c1" });
    try {
      const [a, b] = await Promise.all([client.get("a"), client.get("b")]);
      assert.equal(a.job.id, "a");
      assert.equal(b.job.id, "b");
      assert.equal(server.connections.length, 1);
      const methods = server.requests.map((r) => r.method);
      assert.deepEqual(methods, ["hello", "get", "get"]);
      assert.deepEqual(server.requests[0].params, {
        protocol: 2,
        ack: true, // Deno's own WebSocket: the broker acks each turn's frames
        token: "s3cret",
        clientId: "c1",
      });
    } finally {
      await client.close();
    }
  });
});

Deno.test("client sends operations with their params and returns typed results", async () => {
  await withStub((request) => {
    switch (request.method) {
      case "push":
        return { result: { jobs: [{ id: "j1", duplicate: false }] } };
      case "fail":
        return { result: { state: "dead" } };
      case "claim":
        return { result: { jobs: [claimed("j1")] } };
    }
    return undefined;
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    try {
      const pushed = await client.push({ type: "t", payload: { x: 1 } });
      assert.deepEqual(pushed.jobs, [{ id: "j1", duplicate: false }]);
      const failed = await client.fail("j1", "tok", "boom", { retry: false });
      assert.equal(failed.state, "dead");
      const { jobs } = await client.claim({ workerId: "w", types: ["t"], max: 2, waitMs: 10 });
      assert.equal(jobs[0].leaseToken, "t-j1");
      assert.deepEqual(server.requests.slice(1).map((r) => r.params), [
        { jobs: [{ type: "t", payload: { x: 1 } }] },
        { jobId: "j1", leaseToken: "tok", error: "boom", retry: false },
        { workerId: "w", types: ["t"], max: 2, waitMs: 10 },
      ]);
    } finally {
      await client.close();
    }
  });
});

Deno.test("error replies are rebuilt as typed error classes", async () => {
  await withStub((request) => {
    if (request.method === "complete") {
      return { error: { code: "lease_lost", message: "stale token" } };
    }
    if (request.method === "get") return { error: { code: "job_not_found", message: "no job" } };
    if (request.method === "stats") return { error: { code: "weird_new_code", message: "?" } };
    return undefined;
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    try {
      await assert.rejects(client.complete("j", "t"), (error) => {
        assert.ok(error instanceof LeaseLostError);
        assert.equal(error.code, "lease_lost");
        assert.equal(error.message, "stale token");
        return true;
      });
      await assert.rejects(client.get("j"), JobNotFoundError);
      // A code this version does not know arrives as `internal`, naming it.
      await assert.rejects(client.stats(), (error) => {
        assert.ok(error instanceof InternalError);
        assert.equal(error.code, "internal");
        assert.equal(error.data?.wireCode, "weird_new_code");
        assert.match(error.message, /"weird_new_code": \?$/);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});

Deno.test("a request without a reply fails with TimeoutError", async () => {
  await withStub(() => undefined, async (server) => {
    const client = new OsqueueClient({ url: server.url, requestTimeoutMs: 50 });
    try {
      await assert.rejects(client.stats(), (error) => {
        assert.ok(error instanceof TimeoutError);
        assert.match(error.message, /stats timed out/);
        return true;
      });
    } finally {
      await client.close();
    }
  });
});

Deno.test("a dropped socket fails pending requests with disconnected; the next request reconnects", async () => {
  await withStub((request, connection) => {
    if (request.method === "stats" && connection.index === 0) {
      connection.close(); // drop instead of answering
      return undefined;
    }
    if (request.method === "stats") return { result: { ready: 7 } };
    return undefined;
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url, reconnect: fastReconnect });
    try {
      await assert.rejects(client.stats(), DisconnectedError);
      const stats = await client.stats();
      assert.equal(stats.ready, 7);
      assert.equal(server.connections.length, 2);
      // The request that failed was not resent on the new connection.
      assert.deepEqual(server.connections[1].requests.map((r) => r.method), ["hello", "stats"]);
    } finally {
      await client.close();
    }
  });
});

Deno.test("a rejected hello fails the request at once with its error", async () => {
  await withStub((request, connection) => {
    if (request.method === "hello") {
      const token = (request.params as { token?: string }).token;
      if (token !== "good") {
        return { error: { code: "unauthorized", message: "bad token" } };
      }
    }
    if (request.method === "stats") return { result: { ready: connection.index } };
    return undefined;
  }, async (server) => {
    const bad = new OsqueueClient({ url: server.url, token: "bad", reconnect: fastReconnect });
    const good = new OsqueueClient({ url: server.url, token: "good" });
    try {
      await assert.rejects(bad.stats(), { code: "unauthorized", message: "bad token" });
      assert.equal(typeof (await good.stats()).ready, "number");
    } finally {
      await bad.close();
      await good.close();
    }
  });
});

Deno.test("an unreachable broker makes requests time out naming the connect error", async () => {
  const probe = startStubServer(() => undefined);
  const url = probe.url;
  await probe.close(); // nothing listens on this port any more
  const client = new OsqueueClient({ url, requestTimeoutMs: 100, reconnect: fastReconnect });
  try {
    await assert.rejects(client.stats(), (error) => {
      assert.ok(error instanceof TimeoutError);
      assert.match(error.message, /not connected: cannot connect/);
      return true;
    });
  } finally {
    await client.close();
  }
});

Deno.test("a not_leader reply redirects to data.leaderUrl and retries the request once", async () => {
  await withStub((request) => {
    if (request.method === "push") return { result: { jobs: [{ id: "on-b", duplicate: false }] } };
    return undefined;
  }, async (leader) => {
    await withStub((request) => {
      if (request.method === "push") {
        return {
          error: { code: "not_leader", message: "ask b", data: { leaderUrl: leader.url } },
        };
      }
      return undefined;
    }, async (follower) => {
      const client = new OsqueueClient({ url: follower.url });
      try {
        const { jobs } = await client.push({ type: "t", payload: 1 });
        assert.equal(jobs[0].id, "on-b");
        assert.equal(client.url, leader.url);
        assert.deepEqual(follower.requests.map((r) => r.method), ["hello", "push"]);
        assert.deepEqual(leader.requests.map((r) => r.method), ["hello", "push"]);
      } finally {
        await client.close();
      }
    });
  });
});

Deno.test("not_leader is retried only once", async () => {
  const urls: { a?: string; b?: string } = {};
  const bounce = (request: { method: string }, to: string | undefined) =>
    request.method === "stats"
      ? { error: { code: "not_leader", message: "no", data: { leaderUrl: to } } }
      : undefined;
  const a = startStubServer((request) => bounce(request, urls.b));
  const b = startStubServer((request) => bounce(request, urls.a));
  urls.a = a.url;
  urls.b = b.url;
  const client = new OsqueueClient({ url: a.url });
  try {
    await assert.rejects(client.stats(), NotLeaderError);
    assert.equal(a.requests.filter((r) => r.method === "stats").length, 1);
    assert.equal(b.requests.filter((r) => r.method === "stats").length, 1);
  } finally {
    await client.close();
    await a.close();
    await b.close();
  }
});

Deno.test("a hello from a follower naming the leader makes the client connect there", async () => {
  await withStub((request) => {
    if (request.method === "stats") return { result: { ready: 42 } };
    return undefined;
  }, async (leader) => {
    await withStub((request) => {
      if (request.method === "hello") {
        return { result: { brokerId: "f", leader: false, leaderUrl: leader.url } };
      }
      return { error: { code: "internal", message: "follower should not be asked" } };
    }, async (follower) => {
      const client = new OsqueueClient({ url: follower.url });
      try {
        assert.equal((await client.stats()).ready, 42);
        assert.equal(client.url, leader.url);
        assert.deepEqual(follower.requests.map((r) => r.method), ["hello"]);
      } finally {
        await client.close();
      }
    });
  });
});

Deno.test("startHeartbeat heartbeats until lease_lost, then calls onLost once and stops", async () => {
  let beats = 0;
  await withStub((request) => {
    if (request.method !== "heartbeat") return undefined;
    beats++;
    if (beats < 3) return { result: { leaseExpiresAt: 1 } };
    return { error: { code: "lease_lost", message: "stale" } };
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    try {
      const lost: OsqueueError[] = [];
      const cancel = client.startHeartbeat("j", "tok", {
        intervalMs: 2,
        leaseMs: 1000,
        onLost: (error) => lost.push(error),
      });
      await waitUntil(() => lost.length > 0, "onLost");
      assert.equal(lost.length, 1);
      assert.ok(lost[0] instanceof LeaseLostError);
      // A few more intervals: no more heartbeats go out.
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(beats, 3);
      const sent = server.requests.filter((r) => r.method === "heartbeat");
      assert.deepEqual(sent[0].params, { jobId: "j", leaseToken: "tok", leaseMs: 1000 });
      cancel(); // harmless after stop
    } finally {
      await client.close();
    }
  });
});

Deno.test("the function startHeartbeat returns stops the heartbeats", async () => {
  let beats = 0;
  await withStub((request) => {
    if (request.method !== "heartbeat") return undefined;
    beats++;
    return { result: { leaseExpiresAt: 1 } };
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    try {
      let lost = 0;
      const cancel = client.startHeartbeat("j", "tok", {
        intervalMs: 2,
        onLost: () => lost++,
      });
      await waitUntil(() => beats >= 2, "two heartbeats");
      cancel();
      const seen = beats;
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(beats <= seen + 1, "at most the heartbeat in flight completes");
      assert.equal(lost, 0);
    } finally {
      await client.close();
    }
  });
});

Deno.test("credits granted together leave in one frame in the same turn as the calls made with them", async () => {
  await withStub((request) => {
    if (request.method === "complete") return { result: { ok: true } };
    if (request.method === "subscribe" || request.method === "credit") {
      return { result: { ok: true } };
    }
    return undefined;
  }, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    try {
      await client.subscribe({ workerId: "w", credits: 2 }, () => {});
      // A callback queued before the credits runs before any end-of-turn flush would.
      const nextTurn = new Promise((resolve) => setImmediate(resolve));
      const settled = [client.complete("j1", "t1"), client.complete("j2", "t2")];
      client.credit(1);
      client.credit(1);
      await nextTurn;
      settled.push(client.complete("j3", "t3"));
      await Promise.all(settled);
      const sent = server.connections[0].requests.slice(2).map((r) =>
        JSON.stringify([r.method, r.params])
      );
      assert.deepEqual(sent.slice(0, 3).sort(), [
        '["complete",{"jobId":"j1","leaseToken":"t1"}]',
        '["complete",{"jobId":"j2","leaseToken":"t2"}]',
        '["credit",{"credits":2}]',
      ], "both credits in one frame, in the same turn as the completes");
      assert.deepEqual(sent.slice(3), ['["complete",{"jobId":"j3","leaseToken":"t3"}]']);
    } finally {
      await client.close();
    }
  });
});

Deno.test("subscriptions receive deliveries, send credits, and re-subscribe after a drop", async () => {
  await withStub((request, connection) => {
    if (request.method === "subscribe") {
      if (connection.index === 0) {
        // Deliver one job right after accepting the subscription.
        setTimeout(() => connection.send({ method: "deliver", params: { jobs: [claimed("j1")] } }));
      }
      return { result: { ok: true } };
    }
    if (request.method === "credit" || request.method === "unsubscribe") {
      return { result: { ok: true } };
    }
    return undefined;
  }, async (server) => {
    const errors: OsqueueError[] = [];
    const client = new OsqueueClient({
      url: server.url,
      reconnect: fastReconnect,
      onError: (error) => errors.push(error),
    });
    try {
      const delivered: ClaimedJob[] = [];
      await client.subscribe(
        { workerId: "w", types: ["t"], credits: 3, leaseMs: 500 },
        (jobs) => delivered.push(...jobs),
      );
      await waitUntil(() => delivered.length === 1, "delivery");
      assert.equal(delivered[0].id, "j1");
      assert.equal(client.credits, 2);
      await client.credit(1);
      assert.equal(client.credits, 3);
      assert.deepEqual(server.connections[0].requests.map((r) => [r.method, r.params]), [
        ["hello", { protocol: 2, ack: true }],
        ["subscribe", { workerId: "w", types: ["t"], credits: 3, leaseMs: 500 }],
        ["credit", { credits: 1 }],
      ]);
      // The server drops the socket: the client reconnects on its own and re-subscribes.
      server.connections[0].close();
      await waitUntil(
        () => server.connections[1]?.requests.some((r) => r.method === "subscribe") ?? false,
        "re-subscribe",
      );
      assert.deepEqual(server.connections[1].requests.map((r) => [r.method, r.params]), [
        ["hello", { protocol: 2, ack: true }],
        ["subscribe", { workerId: "w", types: ["t"], credits: 3, leaseMs: 500 }],
      ]);
      await client.unsubscribe();
      assert.equal(server.connections[1].requests.at(-1)?.method, "unsubscribe");
      assert.deepEqual(errors, []);
    } finally {
      await client.close();
    }
  });
});

Deno.test("a socket closed with reason `not_leader <url>` moves the subscription there", async () => {
  const control = (request: { method: string }) =>
    request.method === "subscribe" ? { result: { ok: true } } : undefined;
  await withStub(control, async (leader) => {
    await withStub(control, async (old) => {
      const client = new OsqueueClient({ url: old.url, reconnect: fastReconnect });
      try {
        await client.subscribe({ workerId: "w", credits: 2 }, () => {});
        // The old leader loses leadership and says where the new one is.
        old.connections[0].close(1012, `not_leader ${leader.url}`);
        await waitUntil(
          () => leader.requests.some((r) => r.method === "subscribe"),
          "re-subscribe on the new leader",
        );
        assert.equal(client.url, leader.url);
        assert.deepEqual(leader.requests.find((r) => r.method === "subscribe")?.params, {
          workerId: "w",
          credits: 2,
        });
        assert.equal(old.connections.length, 1, "no reconnect to the old leader");
      } finally {
        await client.close();
      }
    });
  });
});

Deno.test("close fails pending requests with disconnected and refuses new ones", async () => {
  await withStub(() => undefined, async (server) => {
    const client = new OsqueueClient({ url: server.url });
    const pending = client.get("never-answered");
    await waitUntil(() => server.requests.some((r) => r.method === "get"), "get sent");
    await client.close();
    await assert.rejects(pending, DisconnectedError);
    await assert.rejects(client.stats(), DisconnectedError);
  });
});

Deno.test("startHeartbeat without intervalMs paces itself by the leaseExpiresAt the broker grants", async () => {
  const now = 1_000_000;
  const delays: number[] = [];
  let beats = 0;
  await withStub((request) => {
    if (request.method !== "heartbeat") return undefined;
    beats++;
    // The broker grants 1.5 s from now on every heartbeat.
    return { result: { leaseExpiresAt: now + 1500 } };
  }, async (server) => {
    const client = new OsqueueClient({
      url: server.url,
      clock: () => now,
      timers: {
        setTimeout: (fn, ms) => {
          delays.push(ms);
          return setTimeout(fn, ms);
        },
        clearTimeout: (handle) => clearTimeout(handle as number),
      },
    });
    try {
      const cancel = client.startHeartbeat("j", "tok", {
        leaseExpiresAt: now + 900,
        onLost: () => {},
      });
      assert.equal(delays[0], 300, "first interval: a third of the 900 ms left");
      await waitUntil(() => beats >= 2, "two heartbeats");
      cancel();
      assert.ok(delays.includes(500), "then a third of the 1500 ms granted");
      const sent = server.requests.filter((r) => r.method === "heartbeat");
      assert.deepEqual(sent[0].params, { jobId: "j", leaseToken: "tok" }, "no leaseMs asked");
    } finally {
      await client.close();
    }
  });
});
