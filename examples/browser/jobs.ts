/**
 * The browser example's job registry, written with `zod/mini`: the same
 * checks as full zod with a much smaller browser bundle (see the README).
 * Any Standard Schema library works with `defineJobs`.
 *
 * @module
 */
import * as z from "zod/mini";
import { en } from "zod/locales";
import { defineJobs } from "../../worker/mod.ts";

// zod/mini ships without messages ("Invalid input"); the English ones cost about 1 KB gzipped.
z.config(en());

/** The job types the page runs, and their payloads. */
export const jobs = defineJobs({
  /** Reverse a short text. */
  "text:reverse": z.object({ text: z.string().check(z.minLength(1), z.maxLength(1000)) }),
  /** Add up numbers. */
  "math:sum": z.object({ numbers: z.array(z.number()).check(z.minLength(1)) }),
});
