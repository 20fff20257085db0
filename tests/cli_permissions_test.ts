/**
 * The CLI runs with the minimal permissions the README documents per command,
 * and a missing permission is reported at once, by name (not as `unavailable`
 * after retries). The S3 cases use the radosgw of scripts/rgw_start.sh
 * (OSQUEUE_S3_ENDPOINT; ignored without it, except in CI).
 */
import assert from "node:assert/strict";
import { LineLog, repoPath, tempDir } from "./_helpers.ts";

const endpoint = Deno.env.get("OSQUEUE_S3_ENDPOINT") ?? "";
const bucket = Deno.env.get("OSQUEUE_S3_BUCKET") ?? "osqueue-test";
const inCi = (Deno.env.get("CI") ?? "") !== "" && Deno.env.get("CI") !== "false";

/** The permissions the README gives for each command (`DIR` is the `--data` directory). */
const PERMISSIONS = {
  help: [],
  brokerDirectory: (dir: string) => [
    "--allow-net=127.0.0.1",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    "--allow-env=OSQUEUE_TOKEN",
    "--allow-sys=hostname",
  ],
  client: ["--allow-net=127.0.0.1", "--allow-env=OSQUEUE_URL,OSQUEUE_TOKEN"],
  inspectDirectory: (dir: string) => [`--allow-read=${dir}`],
  s3: ["--allow-net", "--allow-env", "--allow-sys=osRelease,hostname"],
};

function spawnCli(permissions: string[], args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...permissions, repoPath("cli/main.ts"), ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function runCli(
  permissions: string[],
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...permissions, repoPath("cli/main.ts"), ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("cli permissions: --help needs none", async () => {
  for (const args of [["--help"], ["broker", "--help"], ["push", "--help"], ["inspect", "-h"]]) {
    const result = await runCli(PERMISSIONS.help, args);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stdout, /^osqueue/);
  }
});

Deno.test("cli permissions: broker, push, stats and inspect on a directory with the documented ones", async () => {
  await using dir = await tempDir("osqueue-perm-");
  const broker = spawnCli(PERMISSIONS.brokerDirectory(dir.path), [
    "broker",
    "--listen",
    "127.0.0.1:0",
    "--data",
    dir.path,
    "--token",
    "t0ken",
  ]);
  const stderr = new LineLog(broker.stderr);
  const stdout = new LineLog(broker.stdout);
  try {
    const [, url] = await stdout.waitFor(/leader on (http:\/\/\S+)/);
    const env = { OSQUEUE_URL: url, OSQUEUE_TOKEN: "t0ken" };
    const push = await runCli(
      PERMISSIONS.client,
      ["push", "--json", "--type", "t", "--payload", "[1]"],
      env,
    );
    assert.equal(push.code, 0, push.stderr);
    const { id } = JSON.parse(push.stdout) as { id: string };
    const stats = await runCli(PERMISSIONS.client, ["stats", "--json"], env);
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal((JSON.parse(stats.stdout) as { ready: number }).ready, 1);
    const inspect = await runCli(PERMISSIONS.inspectDirectory(dir.path), [
      "inspect",
      "--data",
      dir.path,
      "--jobs",
    ]);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, new RegExp(`"id":"${id}"`));
  } finally {
    broker.kill("SIGTERM");
    await broker.status;
    await Promise.all([stderr.done, stdout.done]);
  }
});

Deno.test("cli permissions: a missing one is named at once", async () => {
  await using dir = await tempDir("osqueue-perm-");
  // No --allow-sys=hostname: the default identity needs the host name.
  const withoutSys = PERMISSIONS.brokerDirectory(dir.path).filter((p) =>
    !p.startsWith("--allow-sys")
  );
  const broker = await runCli(withoutSys, [
    "broker",
    "--listen",
    "127.0.0.1:0",
    "--data",
    dir.path,
  ]);
  assert.equal(broker.code, 1);
  assert.match(broker.stderr, /osqueue broker: .*Requires sys access to "hostname"/);
  // No read access to the directory.
  const inspect = await runCli([], ["inspect", "--data", dir.path]);
  assert.equal(inspect.code, 1);
  assert.match(inspect.stderr, /osqueue inspect: .*Requires read access/);
});

Deno.test({
  name: "cli permissions: S3 needs --allow-sys=osRelease; without it the error says so, at once",
  ignore: endpoint === "" && !inCi,
}, async () => {
  assert.notEqual(endpoint, "", "OSQUEUE_S3_ENDPOINT must be set in CI");
  const storage = `s3://${bucket}/cli-perm-${crypto.randomUUID().slice(0, 8)}`;
  const args = ["inspect", "--storage", storage, "--s3-endpoint", endpoint];
  const withoutSys = PERMISSIONS.s3.filter((p) => !p.startsWith("--allow-sys"));
  const denied = await runCli(withoutSys, args);
  assert.equal(denied.code, 1);
  assert.match(
    denied.stderr,
    /osqueue inspect: invalid: S3 GetObject .*missing permission: Requires sys access to "osRelease"/,
  );
  assert.doesNotMatch(denied.stderr, /unavailable|attempts/);
  // With it, the request reaches the server: a fresh prefix holds no queue yet.
  const allowed = await runCli(PERMISSIONS.s3, args);
  assert.equal(allowed.code, 1);
  assert.doesNotMatch(allowed.stderr, /permission|NotCapable/);
  assert.match(allowed.stderr, /no queue state/);

  // A broker on S3 runs with the same permissions.
  const broker = spawnCli(PERMISSIONS.s3, [
    "broker",
    "--listen",
    "127.0.0.1:0",
    "--storage",
    storage,
    "--s3-endpoint",
    endpoint,
  ]);
  const stderr = new LineLog(broker.stderr);
  const stdout = new LineLog(broker.stdout);
  try {
    const [, url] = await stdout.waitFor(/leader on (http:\/\/\S+)/);
    const push = await runCli(PERMISSIONS.client, ["push", "--type", "t"], { OSQUEUE_URL: url });
    assert.equal(push.code, 0, push.stderr);
  } finally {
    broker.kill("SIGTERM");
    await broker.status;
    await Promise.all([stderr.done, stdout.done]);
  }
});
