/**
 * The published package's shape: which entry points load which dependencies,
 * and that every entry point's documentation is complete (`deno doc --lint`)
 * and its examples type-check.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)) as {
  exports: Record<string, string>;
};
const ENTRY_POINTS = Object.entries(config.exports);

async function deno(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** The module specifiers in the static graph of `entry` (type-only imports included). */
async function moduleGraph(entry: string): Promise<string[]> {
  const result = await deno(["info", "--json", entry]);
  assert.equal(result.code, 0, result.stderr);
  const info = JSON.parse(result.stdout) as { modules: { specifier: string }[] };
  return info.modules.map((module) => module.specifier);
}

const isAwsSdk = (specifier: string) => /^npm:\/@(aws-sdk|smithy)\//.test(specifier);

Deno.test("package: only the ./s3 and ./deploy entry points load the AWS SDK", async () => {
  for (const [name, path] of ENTRY_POINTS) {
    const graph = await moduleGraph(path);
    const aws = graph.filter(isAwsSdk);
    if (name === "./s3" || name === "./deploy") {
      assert.ok(
        aws.length > 0,
        `${name} should load @aws-sdk/client-s3 (is the check still valid?)`,
      );
    } else {
      assert.deepEqual(aws, [], `${name} (${path}) loads the AWS SDK`);
    }
  }
});

Deno.test("package: test tools and internals are not exported from the root", async () => {
  const root = await import("../mod.ts");
  for (const name of ["FaultyStore", "seededRandom", "S3Store", "parseS3Url", "unquoteEtag"]) {
    assert.ok(!(name in root), `the root module exports ${name}`);
  }
  for (
    const name of [
      "Mailbox",
      "Actor",
      "compareKeys",
      "operationSchema",
      "rpcRequestSchema",
      "websocketUrl",
      "defaultTimers",
    ]
  ) {
    assert.ok(!(name in root), `the root module exports internal ${name}`);
  }
  // What moved is still reachable from its own entry point.
  const testing = await import("../testing/mod.ts");
  assert.equal(typeof testing.FaultyStore, "function");
  assert.equal(typeof testing.seededRandom, "function");
  const s3 = await import("../s3/mod.ts");
  assert.equal(typeof s3.S3Store, "function");
  assert.equal(typeof s3.parseS3Url, "function");
  assert.ok(!("unquoteEtag" in s3));
});

Deno.test("package: the browser bundle of ./worker carries no zod", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/worker.js`;
    const result = await deno([
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--minify",
      "-o",
      out,
      config.exports["./worker"],
    ]);
    assert.equal(result.code, 0, result.stderr);
    const code = await Deno.readTextFile(out);
    assert.match(code, /OsqueueClient|osqueue/, "the bundle holds the client");
    // zod names its classes with string literals that survive minification.
    assert.doesNotMatch(code, /ZodError|\$ZodType/, "zod is bundled into the worker client");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("package: deno doc --lint is clean on every entry point", async () => {
  const result = await deno(["doc", "--lint", ...ENTRY_POINTS.map(([, path]) => path)]);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
});

Deno.test("package: the examples in every entry point's module doc type-check", async () => {
  const result = await deno(["check", "--doc-only", ...ENTRY_POINTS.map(([, path]) => path)]);
  assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
});
