/**
 * The quickstart's job registry: one zod schema per job type, shared by the
 * producer (payloads validated before they are pushed) and the worker
 * (payloads validated at receipt, handlers typed from the schemas).
 *
 * @module
 */
import { z } from "zod";
import { defineJobs } from "../../worker/mod.ts";

/** The job types of the quickstart and their payloads. */
export const jobs = defineJobs({
  /** Send one email. */
  "email:send": z.object({
    to: z.email(),
    subject: z.string().min(1).max(200),
    body: z.string().default(""),
  }),
  /** Build a monthly report. */
  "report:generate": z.object({
    month: z.string().regex(/^\d{4}-\d{2}$/, "expected YYYY-MM"),
    format: z.enum(["pdf", "csv"]).default("pdf"),
  }),
});

/** The broker the quickstart talks to: `--url`, else `$OSQUEUE_URL`, else `http://127.0.0.1:8080`. */
export function brokerUrl(args: readonly string[] = Deno.args): string {
  const at = args.indexOf("--url");
  if (at >= 0 && args[at + 1] !== undefined) return args[at + 1];
  return Deno.env.get("OSQUEUE_URL") ?? "http://127.0.0.1:8080";
}
