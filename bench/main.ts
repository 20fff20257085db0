/**
 * osqueue's benchmarks: `deno task bench` (= `deno run -A bench/main.ts`).
 *
 * ```sh
 * deno task bench                                  # every suite, full size
 * deno task bench --suite store,broker             # pick suites: store, broker, w1, w2, state
 * deno task bench --quick                          # a short smoke run
 * deno task bench --backends directory --runs 1    # W1/W2 on one store, one run each
 * deno task bench --json results.json              # also write the raw numbers
 * deno task bench depth --depths 1k,100k --backends directory,s3 --seconds 10
 * ```
 *
 * Suites:
 * - `store`: conditional PUT latency per backend and body size;
 * - `broker`: the broker actor's commits/s and operations per commit vs backlog
 *   depth and store latency, under a closed-loop load;
 * - `w1`, `w2`: the peers' workloads (backlog drain; open-loop latency) over
 *   WebSocket, as in `/work/shared/peers.md`;
 * - `state` (not run by default): `deno bench bench/state_bench.ts`, the pure
 *   state model's encode/decode/apply micro-benchmarks;
 * - `depth` (not run by default): latency, throughput, memory, bytes written
 *   per operation and restart time of the CLI broker (its own process) at
 *   1k…1M pending jobs (`--depths`), on the directory store and S3.
 *
 * Backends: `memory`, `directory` (a temporary directory) and `s3` when
 * `OSQUEUE_S3_ENDPOINT` is set (e.g. `scripts/rgw_start.sh && source
 * /tmp/osqueue-rgw/env.sh`). W1/W2 run on every backend but memory unless
 * `--backends` says otherwise. Tables go to stdout (markdown), progress to
 * stderr.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type BackendName, s3Settings } from "./backends.ts";
import { describeMachine, machineInfo } from "./machine.ts";
import { renderSection, type Section } from "./report.ts";
import { runStoreSuite } from "./store_suite.ts";
import { runBrokerSuite } from "./broker_suite.ts";
import { runW1, runW2 } from "./workload_suite.ts";
import { type DepthBackend, parseDepth, runDepthSuite } from "./depth_suite.ts";

/** The suites `--suite` can name. */
export type SuiteName = "store" | "broker" | "w1" | "w2" | "state" | "depth";

const ALL_SUITES: readonly SuiteName[] = ["store", "broker", "w1", "w2", "state", "depth"];
const DEFAULT_SUITES: readonly SuiteName[] = ["store", "broker", "w1", "w2"];
const BACKENDS: readonly BackendName[] = ["memory", "directory", "s3"];

/** Parsed command line of the benchmark runner. */
export interface BenchArgs {
  /** Suites to run, in this order. */
  suites: SuiteName[];
  /** Short smoke-test sizes. */
  quick: boolean;
  /** Backends for every suite (default: see {@linkcode defaultBackends}). */
  backends?: BackendName[];
  /** W1/W2 repetitions, medians reported (default 3, or 1 with `--quick`). */
  runs: number;
  /** Where to write the raw results as JSON, if anywhere. */
  json?: string;
  /** Depth suite: pending jobs per run (default 1k, 10k, 100k, 1M; 1k with `--quick`). */
  depths?: number[];
  /** Depth suite: seconds per load phase (default 10, or 1 with `--quick`). */
  seconds?: number;
  /** `-h`/`--help`: print the usage and exit. */
  help: boolean;
}

/** Parses the benchmark runner's arguments; throws an `Error` that says what is wrong. */
export function parseBenchArgs(args: string[]): BenchArgs {
  const { values, positionals } = parseArgs({
    args,
    options: {
      suite: { type: "string", multiple: true },
      quick: { type: "boolean", default: false },
      backends: { type: "string" },
      runs: { type: "string" },
      json: { type: "string" },
      depths: { type: "string" },
      seconds: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: true,
  });
  // `deno task bench depth` = `--suite depth`.
  const suites = [...(values.suite ?? []), ...positionals].flatMap((s) => s.split(",")).map((s) =>
    s.trim()
  )
    .filter((s) => s !== "");
  for (const suite of suites) {
    if (!ALL_SUITES.includes(suite as SuiteName)) {
      throw new Error(`unknown suite "${suite}"; expected some of ${ALL_SUITES.join(", ")}`);
    }
  }
  const parsed: BenchArgs = {
    suites: suites.length > 0 ? [...new Set(suites as SuiteName[])] : [...DEFAULT_SUITES],
    quick: values.quick,
    runs: values.runs === undefined ? (values.quick ? 1 : 3) : Number(values.runs),
    help: values.help,
  };
  if (!Number.isInteger(parsed.runs) || parsed.runs < 1) {
    throw new Error(`--runs must be a positive integer, got "${values.runs}"`);
  }
  if (values.backends !== undefined) {
    const backends = values.backends.split(",").map((s) => s.trim()).filter((s) => s !== "");
    for (const backend of backends) {
      if (!BACKENDS.includes(backend as BackendName)) {
        throw new Error(`unknown backend "${backend}"; expected some of ${BACKENDS.join(", ")}`);
      }
    }
    parsed.backends = backends as BackendName[];
  }
  if (values.json !== undefined) parsed.json = values.json;
  if (values.depths !== undefined) {
    parsed.depths = values.depths.split(",").filter((s) => s.trim() !== "").map(parseDepth);
  }
  if (values.seconds !== undefined) {
    parsed.seconds = Number(values.seconds);
    if (!(parsed.seconds > 0)) {
      throw new Error(`--seconds must be a positive number, got "${values.seconds}"`);
    }
  }
  return parsed;
}

/** The usage line printed by `--help` and on bad arguments. */
export const USAGE: string =
  `usage: deno run -A bench/main.ts [SUITE…] [--suite store,broker,w1,w2,state,depth] [--quick]
       [--backends memory,directory,s3] [--runs N] [--json FILE]
       [--depths 1k,10k,100k,1M] [--seconds N]   (depth suite)`;

/**
 * The default backends of a suite: memory and directory, plus s3 when
 * configured (W1/W2 and depth skip memory).
 */
export function defaultBackends(suite: SuiteName, s3Configured: boolean): BackendName[] {
  const backends: BackendName[] = suite === "w1" || suite === "w2" || suite === "depth"
    ? ["directory"]
    : ["memory", "directory"];
  if (s3Configured) backends.push("s3");
  return backends;
}

/** Runs the benchmarks per `args`, printing markdown to `out` and progress to `log`. */
export async function runBench(
  args: BenchArgs,
  io: { out: (text: string) => void; log: (line: string) => void },
): Promise<Record<string, unknown>> {
  const s3 = s3Settings((name) => Deno.env.get(name));
  const machine = machineInfo();
  const quick = args.quick;
  const raw: Record<string, unknown> = { machine, quick, runs: args.runs };
  io.out(`## osqueue benchmarks${quick ? " (--quick: smoke-test sizes, not comparable)" : ""}\n`);
  io.out(`Machine: ${describeMachine(machine)}.`);
  io.out(
    `S3: ${s3 === undefined ? "not configured (OSQUEUE_S3_ENDPOINT unset)" : s3.endpoint}. ` +
      `Started ${new Date().toISOString()}.\n`,
  );
  const backendsFor = (suite: SuiteName): BackendName[] => {
    const chosen = args.backends ?? defaultBackends(suite, s3 !== undefined);
    if (chosen.includes("s3") && s3 === undefined) {
      throw new Error("backend s3 needs OSQUEUE_S3_ENDPOINT (see scripts/rgw_start.sh)");
    }
    return chosen;
  };
  const print = (section: Section) => io.out(renderSection(section) + "\n");
  const started = performance.now();
  for (const suite of args.suites) {
    const suiteStarted = performance.now();
    io.log(`--- suite ${suite}`);
    switch (suite) {
      case "store": {
        const { results, section } = await runStoreSuite({
          backends: backendsFor(suite),
          s3,
          log: io.log,
          ...(quick ? { maxPuts: 20, minPuts: 5, maxMs: 200, warmup: 2 } : {}),
        });
        raw.store = results;
        print(section);
        break;
      }
      case "broker": {
        const { results, section } = await runBrokerSuite({
          log: io.log,
          ...(quick
            ? { backlogs: [1_000], latenciesMs: [0, 4], durationMs: 300, warmupMs: 50 }
            : {}),
        });
        raw.broker = results;
        print(section);
        break;
      }
      case "w1": {
        const { results, section } = await runW1({
          backends: backendsFor(suite),
          s3,
          runs: args.runs,
          log: io.log,
          ...(quick ? { jobs: 500 } : {}),
        });
        raw.w1 = results;
        print(section);
        break;
      }
      case "w2": {
        const { results, section } = await runW2({
          backends: backendsFor(suite),
          s3,
          runs: args.runs,
          log: io.log,
          ...(quick ? { durationMs: 2_000 } : {}),
        });
        raw.w2 = results;
        print(section);
        break;
      }
      case "depth": {
        const backends = backendsFor(suite);
        if (backends.includes("memory")) {
          throw new Error("the depth suite runs a CLI broker: use --backends directory,s3");
        }
        const { results, section } = await runDepthSuite({
          backends: backends as DepthBackend[],
          s3,
          depths: args.depths ?? (quick ? [1_000] : undefined),
          seconds: args.seconds ?? (quick ? 1 : undefined),
          log: io.log,
        });
        raw.depth = results;
        print(section);
        break;
      }
      case "state": {
        const output = await runStateBench();
        raw.state = output;
        io.out(`### State model micro-benchmarks (deno bench bench/state_bench.ts)\n`);
        io.out("```\n" + output.trimEnd() + "\n```\n");
        break;
      }
    }
    io.log(`--- suite ${suite} took ${((performance.now() - suiteStarted) / 1000).toFixed(1)} s`);
  }
  io.out(`Total time: ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  return raw;
}

/** Runs `deno bench bench/state_bench.ts` in a subprocess and returns its output. */
async function runStateBench(): Promise<string> {
  const config = new URL("../deno.json", import.meta.url);
  const file = new URL("./state_bench.ts", import.meta.url);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bench", "--no-check", "--config", config.pathname, file.pathname],
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  const text = decoder.decode(stdout) + decoder.decode(stderr);
  if (code !== 0) {
    throw new Error(`deno bench bench/state_bench.ts failed (exit ${code}):\n${text}`);
  }
  return text;
}

if (import.meta.main) {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(Deno.args);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    console.error(USAGE);
    Deno.exit(2);
  }
  if (args.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const raw = await runBench(args, {
    out: (text) => console.log(text),
    log: (line) => console.error(line),
  });
  if (args.json !== undefined) {
    await Deno.writeTextFile(args.json, JSON.stringify(raw, null, 2) + "\n");
    console.error(`raw results written to ${args.json}`);
  }
}
