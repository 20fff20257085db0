import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { AmbiguousWriteError, ConflictError, InvalidError, UnavailableError } from "../errors.ts";
import { S3Store, type S3StoreOptions } from "./s3_store.ts";

/** A request as the fake server saw it. */
interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
}

/** What the fake server does with one request. */
type Reply =
  | { status: number; headers?: Record<string, string>; body?: string | Uint8Array }
  | { hang: true }
  | { networkError: string };

interface FakeRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
}

/** A fake HTTP handler for the SDK: records requests, answers from a script. */
class FakeS3 {
  readonly seen: SeenRequest[] = [];
  #answer: (request: SeenRequest, index: number) => Reply;

  constructor(answer: Reply[] | ((request: SeenRequest, index: number) => Reply)) {
    this.#answer = Array.isArray(answer)
      ? (_, index) => answer[Math.min(index, answer.length - 1)]
      : answer;
  }

  handle(
    request: FakeRequest,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<{ response: unknown }> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      headers[name.toLowerCase()] = value;
    }
    const query: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (typeof value === "string") query[name] = value;
    }
    const seen = { method: request.method, path: decodeURIComponent(request.path), query, headers };
    this.seen.push(seen);
    const reply = this.#answer(seen, this.seen.length - 1);
    if ("hang" in reply) {
      return new Promise((_, reject) => {
        const signal = options.abortSignal;
        const abort = () =>
          reject(Object.assign(new Error("Request aborted"), { name: "AbortError" }));
        if (signal?.aborted) abort();
        else signal?.addEventListener("abort", abort, { once: true });
      });
    }
    if ("networkError" in reply) {
      return Promise.reject(
        Object.assign(new Error(`socket: ${reply.networkError}`), { code: reply.networkError }),
      );
    }
    const body = typeof reply.body === "string"
      ? new TextEncoder().encode(reply.body)
      : reply.body ?? new Uint8Array(0);
    return Promise.resolve({
      response: {
        statusCode: reply.status,
        headers: { "content-length": String(body.length), ...reply.headers },
        body: Readable.from([body]),
      },
    });
  }

  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
  destroy(): void {}
}

function asHandler(
  fake: FakeS3,
): S3StoreOptions["requestHandler"] & S3ClientConfig["requestHandler"] {
  return fake as unknown as S3StoreOptions["requestHandler"] & S3ClientConfig["requestHandler"];
}

function xmlError(code: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code>` +
    `<Message>fake ${code}</Message><RequestId>r1</RequestId></Error>`;
}

function error(status: number, code: string): Reply {
  return { status, headers: { "content-type": "application/xml" }, body: xmlError(code) };
}

const OK_PUT: Reply = { status: 200, headers: { etag: '"new-etag"' } };

const sleeps: number[] = [];

function makeStore(fake: FakeS3, options: Partial<S3StoreOptions> = {}): S3Store {
  return new S3Store({
    bucket: "bkt",
    prefix: "pre/fix",
    endpoint: "http://s3.fake.test",
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "id", secretAccessKey: "secret" },
    requestHandler: asHandler(fake),
    maxAttempts: 3,
    retryBaseDelayMs: 10,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => 0,
    ...options,
  });
}

const body = new TextEncoder().encode("body");

async function rejectsWith(
  promise: Promise<unknown>,
  Class: new (...args: never[]) => Error,
  pattern?: RegExp,
): Promise<Error> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof Class, `expected ${Class.name}, got ${String(caught)}`);
  if (pattern !== undefined) assert.match(caught.message, pattern);
  return caught;
}

Deno.test("S3Store: If-Match goes out unquoted, to the prefixed key, and the new ETag comes back unquoted", async () => {
  const fake: FakeS3 = new FakeS3([OK_PUT]);
  const store = makeStore(fake);
  const etag = await store.put("state/q", body, { condition: { ifMatch: '"abc123"' } });
  assert.equal(etag, "new-etag");
  assert.equal(fake.seen.length, 1);
  assert.equal(fake.seen[0].method, "PUT");
  assert.equal(fake.seen[0].path, "/bkt/pre/fix/state/q");
  assert.equal(fake.seen[0].headers["if-match"], "abc123");
  assert.equal(fake.seen[0].headers["if-none-match"], undefined);
  assert.equal(fake.seen[0].headers["content-length"], "4");
});

Deno.test("S3Store: create sends If-None-Match: *", async () => {
  const fake: FakeS3 = new FakeS3([OK_PUT]);
  await makeStore(fake).put("k", body, { condition: { ifNoneMatch: "*" } });
  assert.equal(fake.seen[0].headers["if-none-match"], "*");
  assert.equal(fake.seen[0].headers["if-match"], undefined);
});

Deno.test("S3Store: 412 on a conditional put is a ConflictError, not retried", async () => {
  for (const condition of [{ ifMatch: "e1" }, { ifNoneMatch: "*" as const }]) {
    const fake: FakeS3 = new FakeS3([error(412, "PreconditionFailed"), OK_PUT]);
    await rejectsWith(makeStore(fake).put("k", body, { condition }), ConflictError, /412/);
    assert.equal(fake.seen.length, 1);
  }
});

Deno.test("S3Store: 409 ConditionalRequestConflict is a ConflictError, not retried", async () => {
  const fake: FakeS3 = new FakeS3([error(409, "ConditionalRequestConflict"), OK_PUT]);
  await rejectsWith(
    makeStore(fake).put("k", body, { condition: { ifMatch: "e1" } }),
    ConflictError,
    /ConditionalRequestConflict/,
  );
  assert.equal(fake.seen.length, 1);
});

Deno.test("S3Store: AWS's 404 NoSuchKey for If-Match on a missing key is a ConflictError", async () => {
  const fake: FakeS3 = new FakeS3([error(404, "NoSuchKey"), OK_PUT]);
  await rejectsWith(
    makeStore(fake).put("k", body, { condition: { ifMatch: "e1" } }),
    ConflictError,
  );
  assert.equal(fake.seen.length, 1);
});

Deno.test("S3Store: a 5xx on a conditional put is ambiguous and never retried", async () => {
  for (const reply of [error(500, "InternalError"), error(503, "ServiceUnavailable")]) {
    const fake: FakeS3 = new FakeS3([reply, OK_PUT]);
    const caught = await rejectsWith(
      makeStore(fake).put("k", body, { condition: { ifMatch: "e1" } }),
      AmbiguousWriteError,
    );
    assert.ok(!(caught instanceof ConflictError));
    assert.equal(fake.seen.length, 1, "a conditional put must not be retried blindly");
  }
});

Deno.test("S3Store: a timeout on a conditional put is ambiguous and never retried", async () => {
  const fake: FakeS3 = new FakeS3([{ hang: true }, OK_PUT]);
  await rejectsWith(
    makeStore(fake, { requestTimeoutMs: 20 }).put("k", body, { condition: { ifMatch: "e1" } }),
    AmbiguousWriteError,
    /timed out/,
  );
  assert.equal(fake.seen.length, 1);
});

Deno.test("S3Store: a reset connection on a conditional put is ambiguous", async () => {
  const fake: FakeS3 = new FakeS3([{ networkError: "ECONNRESET" }, OK_PUT]);
  await rejectsWith(
    makeStore(fake).put("k", body, { condition: { ifNoneMatch: "*" } }),
    AmbiguousWriteError,
    /ECONNRESET/,
  );
  assert.equal(fake.seen.length, 1);
});

Deno.test("S3Store: SlowDown and refused connections on a conditional put are retried, then unavailable", async () => {
  for (const reply of [error(503, "SlowDown"), error(429, "TooManyRequests")]) {
    const fake: FakeS3 = new FakeS3([reply]);
    await rejectsWith(
      makeStore(fake).put("k", body, { condition: { ifMatch: "e1" } }),
      UnavailableError,
      /3 attempts/,
    );
    assert.equal(fake.seen.length, 3);
  }
  const refused = new FakeS3([{ networkError: "ECONNREFUSED" }, OK_PUT]);
  const etag = await makeStore(refused).put("k", body, { condition: { ifMatch: "e1" } });
  assert.equal(etag, "new-etag");
  assert.equal(refused.seen.length, 2);
  // A 412 after a not-processed attempt is a real conflict.
  const thenConflict = new FakeS3([error(503, "SlowDown"), error(412, "PreconditionFailed")]);
  await rejectsWith(
    makeStore(thenConflict).put("k", body, { condition: { ifMatch: "e1" } }),
    ConflictError,
  );
});

Deno.test("S3Store: a caller's abort during a conditional put is ambiguous; before it, nothing is sent", async () => {
  const fake: FakeS3 = new FakeS3([{ hang: true }]);
  const store = makeStore(fake);
  const controller = new AbortController();
  const pending = store.put("k", body, {
    condition: { ifMatch: "e1" },
    signal: controller.signal,
  });
  await new Promise((resolve) => setTimeout(resolve, 1));
  controller.abort(new Error("caller gave up"));
  await rejectsWith(pending, AmbiguousWriteError);
  assert.equal(fake.seen.length, 1);

  const before = new AbortController();
  before.abort(new Error("already aborted"));
  await rejectsWith(
    store.put("k", body, { condition: { ifMatch: "e1" }, signal: before.signal }),
    Error,
    /already aborted/,
  );
  assert.equal(fake.seen.length, 1);
});

Deno.test("S3Store: get retries 5xx, timeouts and resets with growing backoff, then reports unavailable", async () => {
  sleeps.length = 0;
  const fake: FakeS3 = new FakeS3([
    error(500, "InternalError"),
    { networkError: "ECONNRESET" },
    { hang: true },
  ]);
  await rejectsWith(
    makeStore(fake, { requestTimeoutMs: 20 }).get("k"),
    UnavailableError,
    /after 3 attempts/,
  );
  assert.equal(fake.seen.length, 3);
  assert.deepEqual(sleeps, [5, 10], "backoff doubles (random 0 → half the ceiling)");
});

Deno.test("S3Store: get recovers after a transient error and strips ETag quotes", async () => {
  const fake: FakeS3 = new FakeS3([
    error(503, "SlowDown"),
    { status: 200, headers: { etag: '"abc"' }, body: "hello" },
  ]);
  const found = await makeStore(fake).get("a/b");
  assert.equal(found?.etag, "abc");
  assert.equal(new TextDecoder().decode(found?.body), "hello");
  assert.equal(fake.seen.length, 2);
  assert.equal(fake.seen[1].method, "GET");
  assert.equal(fake.seen[1].path, "/bkt/pre/fix/a/b");
});

Deno.test("S3Store: get of a missing key is null; delete of a missing key is fine", async () => {
  const fake: FakeS3 = new FakeS3([error(404, "NoSuchKey")]);
  const store = makeStore(fake);
  assert.equal(await store.get("k"), null);
  await store.delete("k");
  assert.equal(fake.seen.length, 2);
  assert.equal(fake.seen[1].method, "DELETE");
});

Deno.test("S3Store: deletes asked together go as one DeleteObjects; per-key errors reach their callers", async () => {
  const fake: FakeS3 = new FakeS3([{
    status: 200,
    headers: { "content-type": "application/xml" },
    body: '<?xml version="1.0" encoding="UTF-8"?><DeleteResult>' +
      "<Error><Key>pre/fix/gone</Key><Code>NoSuchKey</Code><Message>none</Message></Error>" +
      "<Error><Key>pre/fix/denied</Key><Code>AccessDenied</Code><Message>no</Message></Error>" +
      "</DeleteResult>",
  }]);
  const store = makeStore(fake);
  const [ok, gone, denied] = await Promise.allSettled(
    ["log/1", "gone", "denied"].map((key) => store.delete(key)),
  );
  assert.equal(ok.status, "fulfilled");
  assert.equal(gone.status, "fulfilled");
  assert.ok((denied as PromiseRejectedResult).reason instanceof InvalidError);
  assert.match(
    (denied as PromiseRejectedResult).reason.message,
    /DeleteObjects s3:\/\/bkt\/pre\/fix\/denied: AccessDenied no/,
  );
  assert.equal(fake.seen.length, 1, "one request for three keys");
  assert.equal(fake.seen[0].method, "POST");
  assert.equal(fake.seen[0].path, "/bkt/");
  assert.ok("delete" in fake.seen[0].query);
});

Deno.test("S3Store: a server without DeleteObjects (501) gets single deletes", async () => {
  const fake: FakeS3 = new FakeS3((request) =>
    request.method === "POST" ? error(501, "NotImplemented") : { status: 204 }
  );
  const store = makeStore(fake);
  await Promise.all(["a", "b"].map((key) => store.delete(key)));
  await Promise.all(["c", "d"].map((key) => store.delete(key)));
  assert.deepEqual(fake.seen.map((r) => `${r.method} ${r.path}`), [
    "POST /bkt/",
    "DELETE /bkt/pre/fix/a",
    "DELETE /bkt/pre/fix/b",
    "DELETE /bkt/pre/fix/c",
    "DELETE /bkt/pre/fix/d",
  ]);
});

Deno.test("S3Store: unconditional put and delete retry 5xx, then report unavailable", async () => {
  const fake: FakeS3 = new FakeS3([error(500, "InternalError"), OK_PUT]);
  assert.equal(await makeStore(fake).put("k", body), "new-etag");
  assert.equal(fake.seen.length, 2);
  const failing = new FakeS3([error(503, "ServiceUnavailable")]);
  await rejectsWith(makeStore(failing).delete("k"), UnavailableError);
  assert.equal(failing.seen.length, 3);
});

Deno.test("S3Store: 4xx errors such as bad credentials are InvalidError and not retried", async () => {
  for (const reply of [error(403, "AccessDenied"), error(404, "NoSuchBucket")]) {
    const fake: FakeS3 = new FakeS3([reply]);
    const store = makeStore(fake);
    await rejectsWith(store.get("k"), InvalidError);
    await rejectsWith(store.put("k", body, { condition: { ifMatch: "e" } }), InvalidError);
    await rejectsWith(store.list(""), InvalidError);
    assert.equal(fake.seen.length, 3);
  }
});

Deno.test("S3Store: 501 (no conditional writes) is InvalidError", async () => {
  const fake: FakeS3 = new FakeS3([error(501, "NotImplemented")]);
  await rejectsWith(
    makeStore(fake).put("k", body, { condition: { ifNoneMatch: "*" } }),
    InvalidError,
  );
});

Deno.test("S3Store: a put whose reply lacks an ETag is ambiguous (landed, version unknown)", async () => {
  const fake: FakeS3 = new FakeS3([{ status: 200 }]);
  await rejectsWith(
    makeStore(fake).put("k", body, { condition: { ifNoneMatch: "*" } }),
    AmbiguousWriteError,
  );
});

function listPage(keys: string[], next?: string): Reply {
  const contents = keys.map((key) => `<Contents><Key>${key}</Key><Size>1</Size></Contents>`)
    .join("");
  const more = next === undefined
    ? "<IsTruncated>false</IsTruncated>"
    : `<IsTruncated>true</IsTruncated><NextContinuationToken>${next}</NextContinuationToken>`;
  return {
    status: 200,
    headers: { "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bkt</Name>` +
      `<Prefix>pre/fix/q/</Prefix><KeyCount>${keys.length}</KeyCount>${more}${contents}` +
      `</ListBucketResult>`,
  };
}

Deno.test("S3Store: list follows continuation tokens, strips the prefix, sorts and skips foreign keys", async () => {
  const fake: FakeS3 = new FakeS3((request) =>
    request.query["continuation-token"] === undefined
      ? listPage(["pre/fix/q/b", "pre/fix/q/a", "pre/fix/q/dir/"], "tok-1")
      : error(500, "InternalError")
  );
  let calls = 0;
  const flaky = new FakeS3((request) => {
    calls++;
    if (request.query["continuation-token"] === undefined) {
      return listPage(["pre/fix/q/b", "pre/fix/q/a", "pre/fix/q/dir/"], "tok-1");
    }
    return calls === 2
      ? error(500, "InternalError")
      : listPage(["pre/fix/q/😀", "pre/fix/q/～", "other/x"]);
  });
  assert.deepEqual(await makeStore(flaky, { listPageSize: 3 }).list("q/"), [
    "q/a",
    "q/b",
    "q/～",
    "q/😀",
  ]);
  assert.equal(flaky.seen.length, 3);
  assert.equal(flaky.seen[0].query["prefix"], "pre/fix/q/");
  assert.equal(flaky.seen[0].query["max-keys"], "3");
  assert.equal(flaky.seen[2].query["continuation-token"], "tok-1");
  await rejectsWith(makeStore(fake).list("q/"), UnavailableError);
});

Deno.test("S3Store: list sends StartAfter under the store prefix and stops paging at the limit", async () => {
  const fake = new FakeS3((request) =>
    request.query["continuation-token"] === undefined
      ? listPage(["pre/fix/q/3", "pre/fix/q/4"], "tok-1")
      : listPage(["pre/fix/q/5", "pre/fix/q/6"], "tok-2")
  );
  const store = makeStore(fake, { listPageSize: 2 });
  assert.deepEqual(await store.list("q/", { startAfter: "q/2", limit: 3 }), ["q/3", "q/4", "q/5"]);
  assert.equal(fake.seen.length, 2, "paging stops once the limit is reached");
  assert.equal(fake.seen[0].query["start-after"], "pre/fix/q/2");
  assert.equal(fake.seen[0].query["max-keys"], "2");
  assert.equal(fake.seen[1].query["continuation-token"], "tok-1");
  assert.equal(fake.seen[1].query["max-keys"], "1", "the last page asks only for what is missing");

  // A server that ignores StartAfter still cannot break the contract: the key itself is dropped.
  const careless = new FakeS3([listPage(["pre/fix/q/1", "pre/fix/q/2", "pre/fix/q/3"])]);
  assert.deepEqual(await makeStore(careless).list("q/", { startAfter: "q/2" }), ["q/3"]);
  assert.equal(careless.seen[0].query["start-after"], "pre/fix/q/2");
  assert.equal(careless.seen[0].query["max-keys"], "1000");

  const none = new FakeS3([OK_PUT]);
  await rejectsWith(makeStore(none).list("q/", { limit: 0 }), InvalidError);
  await rejectsWith(makeStore(none).list("q/", { startAfter: "\ud800" }), InvalidError);
  assert.equal(none.seen.length, 0);
});

Deno.test("S3Store: bad keys reject with InvalidError before any request", async () => {
  const fake: FakeS3 = new FakeS3([OK_PUT]);
  const store = makeStore(fake);
  await rejectsWith(store.get("/abs"), InvalidError);
  await rejectsWith(store.put("a//b", body, { condition: { ifNoneMatch: "*" } }), InvalidError);
  await rejectsWith(store.delete("../x"), InvalidError);
  await rejectsWith(store.list("/x"), InvalidError);
  await rejectsWith(store.put("k", body, { condition: { ifMatch: '""' } }), InvalidError);
  assert.equal(fake.seen.length, 0);
});

Deno.test("S3Store: an injected client must have the SDK's retries off", async () => {
  const options = {
    region: "us-east-1",
    endpoint: "http://s3.fake.test",
    forcePathStyle: true,
    credentials: { accessKeyId: "id", secretAccessKey: "secret" },
  };
  const fake: FakeS3 = new FakeS3([OK_PUT]);
  const retrying = new S3Client({ ...options, requestHandler: asHandler(fake) });
  await rejectsWith(
    new S3Store({ bucket: "bkt", client: retrying }).put("k", body),
    InvalidError,
    /maxAttempts: 1/,
  );
  assert.equal(fake.seen.length, 0);
  const single = new S3Client({ ...options, maxAttempts: 1, requestHandler: asHandler(fake) });
  const store = new S3Store({ bucket: "bkt", client: single });
  assert.equal(await store.put("k", body), "new-etag");
  assert.equal(fake.seen[0].path, "/bkt/k");
  assert.equal(store.description, "s3://bkt");
});

Deno.test("S3Store: description and prefix normalisation", () => {
  const fake: FakeS3 = new FakeS3([OK_PUT]);
  assert.equal(makeStore(fake).description, "s3://bkt/pre/fix");
  assert.equal(makeStore(fake, { prefix: "/a/b/" }).description, "s3://bkt/a/b");
  assert.equal(makeStore(fake, { prefix: "" }).description, "s3://bkt");
  assert.throws(() => makeStore(fake, { prefix: "a//b" }), InvalidError);
  assert.throws(() => makeStore(fake, { bucket: "" }), InvalidError);
  assert.throws(() => makeStore(fake, { requestTimeoutMs: 0 }), InvalidError);
});

Deno.test("S3Store: a missing Deno permission is an InvalidError at once, never retried", async () => {
  let calls = 0;
  const denied: S3StoreOptions["requestHandler"] = {
    handle: () => {
      calls++;
      return Promise.reject(
        new Deno.errors.NotCapable(
          'Requires sys access to "osRelease", run again with the --allow-sys flag',
        ),
      );
    },
  };
  sleeps.length = 0;
  const store = new S3Store({
    bucket: "bkt",
    endpoint: "http://s3.fake.test",
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "id", secretAccessKey: "secret" },
    requestHandler: denied,
    maxAttempts: 4,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  await rejectsWith(store.get("k"), InvalidError, /missing permission: .*--allow-sys/);
  await rejectsWith(store.list(""), InvalidError, /missing permission/);
  await rejectsWith(
    store.put("k", body, { condition: { ifNoneMatch: "*" } }),
    InvalidError,
    /conditional put of .*missing permission: .*--allow-sys/,
  );
  const other = new Deno.errors.PermissionDenied("Permission denied (os error 13)");
  const deniedByOs = new S3Store({
    bucket: "bkt",
    endpoint: "http://s3.fake.test",
    region: "us-east-1",
    credentials: { accessKeyId: "id", secretAccessKey: "secret" },
    requestHandler: { handle: () => (calls++, Promise.reject(other)) },
  });
  await rejectsWith(deniedByOs.put("k", body), InvalidError, /missing permission/);
  assert.equal(calls, 4, "one attempt per call");
  assert.deepEqual(sleeps, []);
});
