import assert from "node:assert/strict";
import { InvalidError } from "../errors.ts";
import { parseS3Url, unquoteEtag } from "./s3_url.ts";

Deno.test("parseS3Url splits bucket and prefix", () => {
  assert.deepEqual(parseS3Url("s3://bucket"), { bucket: "bucket", prefix: "" });
  assert.deepEqual(parseS3Url("s3://bucket/"), { bucket: "bucket", prefix: "" });
  assert.deepEqual(parseS3Url("s3://my.bucket-1/queues/emails/"), {
    bucket: "my.bucket-1",
    prefix: "queues/emails",
  });
  for (const bad of ["http://bucket/x", "s3://", "s3:///x", "bucket/x", "s3://b/a/../c"]) {
    assert.throws(() => parseS3Url(bad), InvalidError, bad);
  }
});

Deno.test("unquoteEtag strips surrounding quotes only", () => {
  assert.equal(unquoteEtag('"abc"'), "abc");
  assert.equal(unquoteEtag("abc"), "abc");
  assert.equal(unquoteEtag('"a-1"'), "a-1");
});
