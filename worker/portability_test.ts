/**
 * The worker entry point must run unchanged in browsers and on Deno Deploy:
 * every module reachable from `worker/mod.ts` — in `worker/` or not — uses no
 * `Deno.*` and imports no `node:`. Checked on the real module graph
 * (`deno info --json`), not on the text of `worker/*.ts`.
 */
import assert from "node:assert/strict";
import {
  checkPortability,
  type ModuleGraph,
  moduleGraph,
  readLocalSource,
  stripComments,
} from "./_portability.ts";

const ROOT = new URL("../", import.meta.url).href;
const relative = (specifier: string) => specifier.replace(ROOT, "");

Deno.test("portability: every module reachable from worker/mod.ts uses web-standard APIs only", async () => {
  const graph = await moduleGraph(new URL("./mod.ts", import.meta.url));
  const report = checkPortability(graph, { readSource: readLocalSource, allowNpm: ["zod"] });
  assert.deepEqual(report.offenders, []);
  const local = report.local.map(relative);
  // The whole graph was walked, the modules outside worker/ included.
  for (
    const path of [
      "worker/mod.ts",
      "worker/client.ts",
      "worker/worker.ts",
      "worker/registry.ts",
      "worker/connection_manager.ts",
      "actors/mailbox.ts",
      "errors.ts",
      "protocol/operations.ts",
    ]
  ) {
    assert.ok(local.includes(path), `${path} was not checked`);
  }
  // No npm package at all: the zod schemas live in protocol/operation_schema.ts,
  // which only the broker and the server import.
  assert.deepEqual(report.npm, []);
});

Deno.test("portability: the check walks imports out of worker/ and names the offender", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/worker`);
    await Deno.mkdir(`${dir}/shared`);
    await Deno.writeTextFile(`${dir}/worker/mod.ts`, 'export * from "../shared/util.ts";\n');
    await Deno.writeTextFile(`${dir}/shared/util.ts`, 'export * from "./env.ts";\n');
    await Deno.writeTextFile(
      `${dir}/shared/env.ts`,
      '/** Deno.exit in a comment is fine. */\nexport const home = Deno.env.get("HOME");\n',
    );
    const graph = await moduleGraph(`${dir}/worker/mod.ts`);
    const report = checkPortability(graph, { readSource: readLocalSource });
    assert.equal(report.local.length, 3);
    assert.equal(report.offenders.length, 1);
    assert.match(report.offenders[0], /shared\/env\.ts:2: export const home = Deno\.env/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("portability: node: imports, Node built-ins, remote modules and other npm packages fail", () => {
  const sources: Record<string, string> = {
    "file:///w/mod.ts": 'import "../lib/a.ts";\nimport "npm:zod";\n',
    "file:///lib/a.ts": 'import { readFile } from "node:fs/promises";\nconst k = Deno["env"];\n',
    "file:///lib/b.ts": "export const ok = globalThis.fetch;\n",
  };
  const graph: ModuleGraph = {
    modules: [
      { specifier: "file:///w/mod.ts", kind: "esm" },
      { specifier: "file:///lib/a.ts", kind: "esm" },
      { specifier: "file:///lib/b.ts", kind: "esm" },
      { specifier: "node:fs/promises", kind: "node" },
      { specifier: "npm:/zod@4.1.0", kind: "npm" },
      { specifier: "npm:/@aws-sdk/client-s3@3.700.0", kind: "npm" },
      { specifier: "https://example.com/x.ts", kind: "esm" },
    ],
  };
  const report = checkPortability(graph, {
    readSource: (specifier) => sources[specifier],
    allowNpm: ["zod"],
  });
  assert.deepEqual(report.npm, ["zod@4.1.0", "@aws-sdk/client-s3@3.700.0"]);
  assert.deepEqual(report.offenders, [
    'file:///lib/a.ts:1: import { readFile } from "node:fs/promises";',
    'file:///lib/a.ts:2: const k = Deno["env"];',
    "node:fs/promises: Node built-in",
    "npm:/@aws-sdk/client-s3@3.700.0: npm package not allowed",
    "https://example.com/x.ts: remote module",
  ]);
  // The same graph without the offenders passes.
  const clean = checkPortability(
    {
      modules: graph.modules.filter((m) =>
        ["file:///w/mod.ts", "file:///lib/b.ts", "npm:/zod@4.1.0"].includes(m.specifier)
      ),
    },
    { readSource: (specifier) => sources[specifier], allowNpm: ["zod"] },
  );
  assert.deepEqual(clean.offenders, []);
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
