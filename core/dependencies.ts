/**
 * Job dependencies (flows): a job pushed with `dependsOn` waits until every
 * parent completed. Pure, like `apply.ts` which calls it; all changes go
 * through the {@linkcode StateDraft}, so they are persisted with the batch.
 *
 * - A waiting job is stored as `delayed` with `runAt` = {@linkcode WAITING_RUN_AT}
 *   (the largest time a `Date` holds), so it sits in the delayed index, is
 *   never promoted by the clock, and needs no index of its own. Its
 *   `dependsOn` lists the parents it waits for; each parent lists its waiting
 *   jobs in `children`, so a parent's completion finds them at once.
 * - When the last parent completes, the job becomes `ready` (at that time).
 *   A parent that is gone from the state counts as completed: a parent that
 *   dies, is cancelled or deleted kills its waiting children at that moment,
 *   so only completed parents are ever archived with children waiting.
 * - Policy for failures: a parent that becomes `dead`, is `cancelled` or is
 *   deleted while not completed makes each waiting child `dead` with
 *   `lastError` naming the parent, and so on down the tree. Retrying a dead
 *   parent does not revive children that died with it (retry them too).
 * - Parents must be held in the state when the child is pushed (an id not
 *   found, or archived, is refused with `job_not_found`); a parent that is
 *   already dead or cancelled is refused; a completed one is already
 *   satisfied. An entry of `dependsOn` may also be the index of an earlier
 *   job of the same push, which pushes a whole flow in one commit. Since
 *   parents always exist before their children, cycles cannot be formed.
 *
 * @module
 */
import { JobNotFoundError, ValidationError } from "../errors.ts";
import type { Job, PushJob } from "../protocol/operations.ts";
import { parseJobId } from "./job_id.ts";
import type { StateDraft } from "./state_draft.ts";

/** The `runAt` of a job waiting for its parents: never due by the clock. */
export const WAITING_RUN_AT = 8_640_000_000_000_000;

/** Whether `job` waits for parents. */
export function isWaiting(job: Job): boolean {
  return job.state === "delayed" && job.runAt === WAITING_RUN_AT && job.dependsOn !== undefined;
}

/** Checks `spec.dependsOn` of `jobs[index]` before a push writes anything; throws why not. */
export function checkParents(draft: StateDraft, spec: PushJob, index: number): void {
  const parents = spec.dependsOn;
  if (parents === undefined) return;
  const bad = (what: string): never => {
    throw new ValidationError(`push: jobs[${index}]: ${what}`);
  };
  if (!Array.isArray(parents) || parents.length === 0) bad("dependsOn must be a non-empty array");
  if (spec.delayMs !== undefined || spec.runAt !== undefined) {
    bad(
      "dependsOn cannot be combined with delayMs or runAt (a child runs when its parents completed)",
    );
  }
  for (const parent of parents) {
    if (typeof parent === "number") {
      if (!(Number.isSafeInteger(parent) && parent >= 0 && parent < index)) {
        bad(`dependsOn index ${parent} is not an earlier job of this push`);
      }
      continue;
    }
    if (typeof parent !== "string") bad("dependsOn entries must be job ids or indexes");
    const seq = parseJobId(parent);
    const job = seq === undefined ? undefined : draft.job(seq);
    if (job === undefined) {
      throw new JobNotFoundError(
        `push: jobs[${index}]: parent job ${
          JSON.stringify(parent)
        } not found (unknown, or finished and archived)`,
      );
    }
    if (job.state === "dead" || job.state === "cancelled") {
      bad(`parent job ${JSON.stringify(parent)} is ${job.state}: this job could never run`);
    }
  }
}

/**
 * Sets up `job` (being pushed, not yet added) to wait for its parents that
 * have not completed, given the ids assigned so far to the earlier jobs of
 * the same push; returns those parents (link them with {@linkcode linkChild}
 * once the job is added). A parent found dead or cancelled here (an earlier
 * job of the push that was a duplicate of such a job) makes `job` dead at once.
 */
export function waitForParents(
  draft: StateDraft,
  job: Job,
  parents: readonly (string | number)[],
  earlier: readonly { id: string }[],
  now: number,
): string[] {
  const pending = new Set<string>();
  for (const parent of parents) {
    const id = typeof parent === "number" ? earlier[parent].id : parent;
    const seq = parseJobId(id);
    const found = seq === undefined ? undefined : draft.job(seq);
    if (found === undefined || found.state === "completed") continue;
    if (found.state === "dead" || found.state === "cancelled") {
      Object.assign(job, {
        state: "dead",
        finishedAt: now,
        lastError: `parent job ${JSON.stringify(id)} is ${found.state}: this job will not run`,
      });
      return [];
    }
    pending.add(id);
  }
  if (pending.size > 0) {
    // Delayed, never due by the clock, until the parents completed.
    Object.assign(job, { state: "delayed", runAt: WAITING_RUN_AT, dependsOn: [...pending] });
  }
  return [...pending];
}

/** Records `childId` in the `children` of each parent. */
export function linkChild(draft: StateDraft, childId: string, parents: readonly string[]): void {
  for (const id of parents) {
    const seq = parseJobId(id)!;
    const parent = draft.job(seq)!;
    draft.update(seq, parent, { ...parent, children: [...(parent.children ?? []), childId] });
  }
}

/**
 * Settles the waiting children of `parent`, which just completed, died, was
 * cancelled or (`deleted`) was removed: a completion readies each child whose
 * parents all completed; anything else kills the waiting children, and theirs.
 */
export function settleChildren(
  draft: StateDraft,
  parent: Job,
  now: number,
  deleted = false,
): void {
  if (parent.children === undefined) return;
  if (parent.state === "completed" && !deleted) {
    for (const id of parent.children) {
      const seq = parseJobId(id);
      const child = seq === undefined ? undefined : draft.job(seq);
      if (seq === undefined || child === undefined || !isWaiting(child)) continue;
      const done = child.dependsOn!.every((p) => {
        const s = parseJobId(p);
        const job = s === undefined ? undefined : draft.job(s);
        return job === undefined || job.state === "completed";
      });
      if (done) draft.update(seq, child, { ...child, state: "ready", runAt: now, updatedAt: now });
    }
    return;
  }
  const stack: { parent: Job; why: string }[] = [{
    parent,
    why: deleted ? "was deleted" : `is ${parent.state}`,
  }];
  while (stack.length > 0) {
    const { parent: from, why } = stack.pop()!;
    for (const id of from.children ?? []) {
      const seq = parseJobId(id);
      const child = seq === undefined ? undefined : draft.job(seq);
      if (seq === undefined || child === undefined || !isWaiting(child)) continue;
      const next: Job = {
        ...child,
        state: "dead",
        lastError: `parent job ${JSON.stringify(from.id)} ${why}: this job will not run`,
        finishedAt: now,
        updatedAt: now,
      };
      draft.update(seq, child, next);
      draft.count("dead");
      stack.push({ parent: next, why: "is dead" });
    }
  }
}
