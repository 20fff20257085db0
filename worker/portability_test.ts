import assert from "node:assert/strict";

/** Blanks out block and line comments (JSDoc examples may show host wiring), keeping line numbers. */
function stripComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, " "))
    .replace(/^\s*\/\/.*$/gm, "");
}

// The worker side must run unchanged in browsers and on Deno Deploy: no
// `Deno.*` and no `node:` imports outside tests and test helpers.
Deno.test("worker sources use web-standard APIs only", async () => {
  const dir = new URL(".", import.meta.url);
  const offenders: string[] = [];
  const checked: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const name = entry.name;
    if (!entry.isFile || !name.endsWith(".ts")) continue;
    if (name.endsWith("_test.ts") || name.startsWith("_test_")) continue;
    checked.push(name);
    const code = stripComments(await Deno.readTextFile(new URL(name, dir)));
    code.split("\n").forEach((line, i) => {
      if (/\bDeno\s*\.|\bDeno\b\s*\[|["'`]node:/.test(line)) {
        offenders.push(`${name}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  for (const name of ["client.ts", "worker.ts", "registry.ts", "mod.ts"]) {
    assert.ok(checked.includes(name), `${name} was not checked`);
  }
  assert.deepEqual(offenders, []);
});

Deno.test("the comment stripper keeps code that mentions Deno", () => {
  const code = stripComments(
    '/** Deno.exit */\nconst x = Deno.env;\n// Deno.exit\nimport "node:fs";',
  );
  assert.equal(code.split("\n").length, 4);
  assert.match(code, /const x = Deno\.env/);
  assert.match(code, /"node:fs"/);
  assert.doesNotMatch(code, /Deno\.exit/);
});
