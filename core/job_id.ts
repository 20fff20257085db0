/**
 * Job ids: the job's sequence number in base 36 (`1`, `2`, … `z`, `10`, …).
 * The counter lives in the queue state, so ids stay unique across restarts
 * and leader changes, and an id maps straight back to its sequence number.
 *
 * @module
 */

const ID_PATTERN = /^[1-9a-z][0-9a-z]{0,10}$/;

/** Formats a sequence number (a positive safe integer) as a job id. */
export function formatJobId(seq: number): string {
  return seq.toString(36);
}

/** The sequence number of a job id, or `undefined` when `id` is not one this queue could have made. */
export function parseJobId(id: unknown): number | undefined {
  if (typeof id !== "string" || !ID_PATTERN.test(id)) return undefined;
  const seq = parseInt(id, 36);
  return Number.isSafeInteger(seq) ? seq : undefined;
}
