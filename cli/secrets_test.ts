import assert from "node:assert/strict";
import { ARGV_TOKEN_WARNING, clientToken, loadBrokerTokens, readTokenFile } from "./secrets.ts";

Deno.test("broker tokens: tokens file, token file, env, and a warning for --token", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tokenFile = `${dir}/token`;
    await Deno.writeTextFile(tokenFile, "  file-secret\n");
    const tokensFile = `${dir}/tokens.json`;
    await Deno.writeTextFile(tokensFile, '{"tokens":[{"token":"p","role":"producer"}]}');
    const env = (vars: Record<string, string>) => (name: string) => vars[name];
    const warnings: string[] = [];
    const warn = (line: string) => warnings.push(line);

    assert.deepEqual(await loadBrokerTokens({ env: env({}), warn }), []);
    assert.deepEqual(await loadBrokerTokens({ tokenFile, tokensFile, env: env({}), warn }), [
      { token: "p", role: "producer" },
      { token: "file-secret", role: "admin", name: "admin" },
    ]);
    assert.deepEqual(
      await loadBrokerTokens({
        env: env({ OSQUEUE_TOKEN: "env-secret", OSQUEUE_TOKENS_FILE: tokensFile }),
        warn,
      }),
      [{ token: "p", role: "producer" }, { token: "env-secret", role: "admin", name: "admin" }],
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(await loadBrokerTokens({ token: "argv", env: env({}), warn }), [
      { token: "argv", role: "admin", name: "admin" },
    ]);
    assert.deepEqual(warnings, [ARGV_TOKEN_WARNING]);
    assert.equal(await clientToken({ env: env({ OSQUEUE_TOKEN: "e" }) }), "e");
    assert.equal(await clientToken({ tokenFile, env: env({ OSQUEUE_TOKEN: "e" }) }), "file-secret");
    assert.equal(await clientToken({ env: env({}) }), undefined);

    await Deno.writeTextFile(tokenFile, "\n");
    await assert.rejects(readTokenFile(tokenFile), /empty/);
    await Deno.writeTextFile(tokensFile, '{"tokens":[{"token":"p","role":"boss"}]}');
    await assert.rejects(loadBrokerTokens({ tokensFile, env: env({}) }), /unknown token role/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
