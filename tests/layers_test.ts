/**
 * The layers of the code base, checked on the real module graph
 * (`deno info --json`): every import points downwards (or stays inside its
 * own folder). See ARCHITECTURE.md.
 */
import assert from "node:assert/strict";
import { repoPath, ROOT } from "./_helpers.ts";

/** Each layer and the layers it may import. */
const ALLOWED: Record<string, string[]> = {
  "errors.ts": [],
  "clock.ts": [],
  protocol: ["errors.ts", "clock.ts"],
  storage: ["errors.ts", "clock.ts"],
  s3: ["storage", "errors.ts", "clock.ts"],
  actors: ["errors.ts", "clock.ts"],
  core: ["protocol", "errors.ts", "clock.ts"],
  broker: ["core", "storage", "actors", "protocol", "errors.ts", "clock.ts"],
  server: ["broker", "core", "storage", "protocol", "errors.ts", "clock.ts"],
  worker: ["protocol", "actors", "errors.ts", "clock.ts"],
  deploy: [
    "server",
    "broker",
    "s3",
    "core",
    "storage",
    "protocol",
    "actors",
    "errors.ts",
    "clock.ts",
  ],
  testing: ["storage", "core", "protocol", "errors.ts", "clock.ts"],
  "mod.ts": ["*"],
  cli: ["*"],
};

function layerOf(path: string): string | undefined {
  if (!path.startsWith(ROOT)) return undefined;
  const rel = path.slice(ROOT.length);
  const first = rel.split("/")[0];
  return first in ALLOWED ? first : undefined;
}

interface Graph {
  modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
}

Deno.test("layers: imports only point downwards, on the real module graph", async () => {
  const entries = [
    "mod.ts",
    "s3/mod.ts",
    "testing/mod.ts",
    "worker/mod.ts",
    "deploy/mod.ts",
    "cli/main.ts",
  ];
  const graph: Graph = { modules: [] };
  for (const entry of entries) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", repoPath(entry)],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    graph.modules.push(...(JSON.parse(new TextDecoder().decode(output.stdout)) as Graph).modules);
  }
  const violations: string[] = [];
  let checked = 0;
  for (const module of graph.modules) {
    if (!module.specifier.startsWith("file://")) continue;
    const from = layerOf(new URL(module.specifier).pathname);
    if (from === undefined) continue;
    checked++;
    for (const dependency of module.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (target === undefined || !target.startsWith("file://")) continue;
      const to = layerOf(new URL(target).pathname);
      if (to === undefined || to === from) continue;
      if (ALLOWED[from].includes("*") || ALLOWED[from].includes(to)) continue;
      violations.push(
        `${module.specifier.slice(ROOT.length + 7)} → ${target.slice(ROOT.length + 7)}`,
      );
    }
  }
  assert.ok(checked > 50, `only ${checked} modules checked`);
  assert.deepEqual(violations, []);
});
