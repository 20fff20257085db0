/**
 * The access findings of issue 9, replayed against a CLI broker process:
 * tokens come from a file and the environment (never visible in `ps`), each
 * role is held to its operations, a second client cannot read a worker's lease
 * token, foreign pages cannot open a WebSocket, rebinding host names are
 * refused, and a `text/plain` cross-site POST creates nothing.
 */
import assert from "node:assert/strict";
import type { ClaimedJob } from "../protocol/operations.ts";
import { rawRequest, UPGRADE_HEADERS } from "../server/_test_raw_http.ts";
import { TestClient } from "../server/_test_ws_client.ts";
import { startCliBroker, tempDir } from "./_helpers.ts";

const SECRETS = {
  admin: "admin-e2e-5f1d8a",
  producer: "producer-e2e-93b2c4",
  worker: "worker-e2e-17aa90",
  mailer: "mailer-e2e-c0ffee",
};

Deno.test("CLI broker: scoped tokens from a file and env, origins, host check, no token leaks", async () => {
  await using dir = await tempDir();
  const tokensFile = `${dir.path}/tokens.json`;
  await Deno.writeTextFile(
    tokensFile,
    JSON.stringify({
      tokens: [
        { name: "web", token: SECRETS.producer, role: "producer" },
        { name: "any-worker", token: SECRETS.worker, role: "worker" },
        { name: "mailer", token: SECRETS.mailer, role: "worker", types: ["email"] },
      ],
    }),
  );
  await using broker = await startCliBroker({
    data: `${dir.path}/data`,
    token: SECRETS.admin, // env OSQUEUE_TOKEN
    extra: [
      "--tokens-file",
      tokensFile,
      "--allow-origin",
      "https://app.example.com,https://admin.example.com",
    ],
  });
  // No secret on the command line (what `ps` shows).
  const cmdline = await Deno.readTextFile(`/proc/${broker.child.process.pid}/cmdline`);
  for (const secret of Object.values(SECRETS)) assert.ok(!cmdline.includes(secret));
  assert.ok(!broker.child.stderr.lines.some((line) => /--token puts the secret/.test(line)));
  assert.ok(broker.child.stdout.lines.some((line) => /4 token\(s\) required/.test(line)));

  const rest = (method: string, path: string, token: string, body?: unknown) =>
    fetch(new URL(path, broker.url), {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const pushed = await rest("POST", "/v1/jobs", SECRETS.producer, { type: "email", payload: 1 });
  assert.equal(pushed.status, 201);
  const { id } = await pushed.json();
  const refused = await rest("POST", "/v1/jobs", SECRETS.mailer, { type: "email", payload: 2 });
  assert.equal(refused.status, 403);
  await refused.body?.cancel();
  const cancel = await rest("DELETE", `/v1/jobs/${id}`, SECRETS.producer);
  assert.equal(cancel.status, 403);
  await cancel.body?.cancel();

  // The mail worker claims the job; a producer reading it sees no token.
  const worker = await TestClient.connect(broker.url, {
    authorization: `Bearer ${SECRETS.mailer}`,
  });
  const claim = await worker.call("claim", { workerId: "mailer-1" });
  const [job] = (claim.result as { jobs: ClaimedJob[] }).jobs;
  assert.equal(job.id, id);
  const got = await rest("GET", `/v1/jobs/${id}`, SECRETS.producer);
  const text = await got.text();
  assert.equal(JSON.parse(text).lease.workerId, "mailer-1");
  assert.ok(!text.includes(job.leaseToken), "REST get leaks no lease token");
  const peer = await TestClient.connect(broker.url, { authorization: `Bearer ${SECRETS.admin}` });
  const viaWs = await peer.call("get", { jobId: id });
  assert.ok(!JSON.stringify(viaWs).includes(job.leaseToken), "WS get leaks no lease token");
  // Without the token even an admin cannot extend or finish the worker's lease.
  const hijack = await peer.call("heartbeat", {
    jobId: id,
    leaseToken: "x",
    leaseMs: 86_400_000,
  });
  assert.equal(hijack.error?.code, "lease_lost");
  const done = await worker.call("complete", { jobId: id, leaseToken: job.leaseToken });
  assert.deepEqual(done.result, { ok: true });

  // Browsers: foreign origins cannot upgrade; listed ones can; rebinding hosts are refused.
  const { port } = new URL(broker.url);
  const addr = { hostname: "127.0.0.1", port: Number(port) };
  const upgrade = (origin: string, host = `127.0.0.1:${port}`) =>
    rawRequest(addr, { path: "/ws", headers: { host, origin, ...UPGRADE_HEADERS } });
  assert.equal((await upgrade("http://evil.example")).status, 403);
  assert.equal((await upgrade("https://admin.example.com")).status, 101);
  assert.equal((await upgrade(`http://evil.example:${port}`, `evil.example:${port}`)).status, 403);
  // A cross-site no-cors POST (text/plain, no token needed to try) creates nothing.
  const noCors = await rawRequest(addr, {
    method: "POST",
    path: "/v1/jobs",
    headers: {
      host: `127.0.0.1:${port}`,
      origin: "http://evil.example",
      "content-type": "text/plain",
    },
    body: JSON.stringify({ type: "email", payload: "csrf" }),
  });
  assert.equal(noCors.status, 403);
  const stats = await rest("GET", "/v1/stats", SECRETS.admin);
  assert.equal((await stats.json()).totals.pushed, 1);

  await worker.close();
  await peer.close();
  broker.child.kill("SIGTERM");
  assert.equal((await broker.child.exit()).code, 0);
});

Deno.test("CLI broker: a bad tokens file or origin fails at start, naming the problem", async () => {
  await using dir = await tempDir();
  const tokensFile = `${dir.path}/tokens.json`;
  await Deno.writeTextFile(tokensFile, JSON.stringify({ tokens: [{ token: "a", role: "root" }] }));
  for (
    const [extra, pattern] of [
      [["--tokens-file", tokensFile], /tokens\[0\]: unknown token role "root"/],
      [["--allow-origin", "app.example.com"], /not an origin like https:/],
    ] as const
  ) {
    await assert.rejects(
      startCliBroker({ data: `${dir.path}/data`, extra: [...extra] }),
      (error: Error) => pattern.test(error.message),
    );
  }
});
