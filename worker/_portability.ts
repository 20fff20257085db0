/**
 * The portability check of the worker entry point, for tests only: walks a
 * module graph as `deno info --json` prints it and reports every reachable
 * module that would not run in a browser or on Deno Deploy — a local module
 * using `Deno.*` or importing `node:`, a Node built-in, a remote module, an
 * npm package not on the allow list.
 *
 * @module
 */

/** One module of a `deno info --json` graph (the fields the check reads). */
export interface GraphModule {
  /** `file:///…`, `node:fs`, `npm:/zod@4.1.0`, `https://…`. */
  specifier: string;
  /** `esm`, `node`, `npm`, `asserted`, … */
  kind?: string;
  /** The imports of the module. */
  dependencies?: {
    specifier: string;
    code?: { specifier: string };
    type?: { specifier: string };
  }[];
}

/** A module graph as `deno info --json` prints it. */
export interface ModuleGraph {
  /** Every module reachable from the roots. */
  modules: GraphModule[];
}

/** What {@linkcode checkPortability} found. */
export interface PortabilityReport {
  /** Every local (`file:`) module checked, as file URLs. */
  local: string[];
  /** The npm packages reached (name@version), allowed or not. */
  npm: string[];
  /** One line per problem: `<specifier>:<line>: <code>` or `<specifier>: <why>`. */
  offenders: string[];
}

/** Options of {@linkcode checkPortability}. */
export interface PortabilityOptions {
  /** Reads a local module's source by its `file:` URL. */
  readSource: (specifier: string) => string;
  /** npm package names that may be reached (e.g. `["zod"]`). */
  allowNpm?: string[];
}

/** Blanks out block and line comments (JSDoc examples may show host wiring), keeping line numbers. */
export function stripComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, " "))
    .replace(/^\s*\/\/.*$/gm, "");
}

/** Code that only runs on Deno or Node: `Deno.x`, `Deno["x"]`, a `node:` specifier. */
const NON_PORTABLE = /\bDeno\s*\.|\bDeno\b\s*\[|["'`]node:/;

/** Checks every module of `graph`; see {@linkcode PortabilityReport}. */
export function checkPortability(
  graph: ModuleGraph,
  options: PortabilityOptions,
): PortabilityReport {
  const allowNpm = new Set(options.allowNpm ?? []);
  const report: PortabilityReport = { local: [], npm: [], offenders: [] };
  for (const module of graph.modules) {
    const { specifier } = module;
    if (specifier.startsWith("file:")) {
      report.local.push(specifier);
      const code = stripComments(options.readSource(specifier));
      code.split("\n").forEach((line, i) => {
        if (NON_PORTABLE.test(line)) report.offenders.push(`${specifier}:${i + 1}: ${line.trim()}`);
      });
    } else if (specifier.startsWith("npm:")) {
      const nameAndVersion = specifier.replace(/^npm:\/?/, "");
      report.npm.push(nameAndVersion);
      const name = nameAndVersion.replace(/^(@?[^@]+)@.*$/, "$1");
      if (!allowNpm.has(name)) report.offenders.push(`${specifier}: npm package not allowed`);
    } else if (module.kind === "node" || specifier.startsWith("node:")) {
      report.offenders.push(`${specifier}: Node built-in`);
    } else {
      report.offenders.push(`${specifier}: remote module`);
    }
  }
  return report;
}

/** Runs `deno info --json` on `entry` (a path or file URL) and parses the graph. */
export async function moduleGraph(entry: string | URL): Promise<ModuleGraph> {
  const path = entry instanceof URL ? entry.pathname : entry;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (output.code !== 0) {
    throw new Error(`deno info ${path} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(output.stdout)) as ModuleGraph;
}

/** Reads a local module's source (for {@linkcode PortabilityOptions.readSource}). */
export function readLocalSource(specifier: string): string {
  return Deno.readTextFileSync(new URL(specifier));
}
