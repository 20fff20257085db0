/**
 * The osqueue command line: `osqueue broker | push | stats | inspect`.
 *
 * ```sh
 * deno install -g -A -n osqueue jsr:@osqueue/cli
 * osqueue broker --listen :8080 --data ./data
 * deno run -A jsr:@osqueue/cli push --type email:send --payload '{"to":"a@example.com"}'
 * ```
 *
 * Each command needs only some permissions (see the README): `--help` none,
 * `push`/`stats` `--allow-net --allow-env=OSQUEUE_URL,OSQUEUE_TOKEN`, a
 * broker on a directory `--allow-net --allow-read=DIR --allow-write=DIR
 * --allow-env=OSQUEUE_TOKEN --allow-sys=hostname`, S3 also
 * `--allow-env --allow-sys=osRelease`.
 *
 * @module
 */
import { OsqueueError } from "@osqueue/osqueue/worker";
import { brokerCommand } from "./broker.ts";
import { inspectCommand } from "./inspect.ts";
import { jobsCommand } from "./jobs.ts";
import { pushCommand } from "./push.ts";
import { schedulesCommand } from "./schedules.ts";
import { statsCommand, topCommand } from "./top.ts";
import { typesCommand } from "./types.ts";

/** The help of `osqueue` itself: the list of commands. */
const MAIN_HELP = `osqueue — a durable job queue on object storage

Usage: osqueue <command> [options]

Commands:
  broker    run a broker server (WebSocket RPC, REST, dashboard at /ui, /metrics)
  push      enqueue a job (or a file of JSON lines) through a broker's REST API
  jobs      list jobs by state, show one, retry / cancel / promote / delete
  types     pause / resume job types, set rate and concurrency limits
  schedules recurring jobs: cron or every N (ls, set, rm)
  stats     print a broker's queue counters (--watch to refresh)
  top       a live terminal view of a broker
  inspect   read the queue state straight from storage

Run "osqueue <command> --help" for a command's options.`;

/** Runs the CLI with `args` (without the program name); resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "broker":
        return await brokerCommand(rest);
      case "push":
        return await pushCommand(rest);
      case "stats":
        return await statsCommand(rest);
      case "top":
        return await topCommand(rest);
      case "jobs":
        return await jobsCommand(rest);
      case "types":
        return await typesCommand(rest);
      case "schedules":
        return await schedulesCommand(rest);
      case "inspect":
        return await inspectCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(MAIN_HELP);
        return command === undefined ? 2 : 0;
      default:
        console.error(`osqueue: unknown command "${command}"\n\n${MAIN_HELP}`);
        return 2;
    }
  } catch (error) {
    // An unknown option or a missing option value is a usage error, like a missing --type.
    const code = (error as { code?: unknown } | null)?.code;
    if (
      (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) ||
      (error as { usage?: unknown } | null)?.usage === true
    ) {
      console.error(`osqueue ${command}: ${(error as Error).message}
Run "osqueue ${command} --help" for its options.`);
      return 2;
    }
    const message = error instanceof OsqueueError
      ? `${error.code}: ${error.message}`
      : error instanceof Error
      ? error.message
      : String(error);
    console.error(`osqueue ${command}: ${message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
