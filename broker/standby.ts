/**
 * The standby's loop: follow the log on the standby's own clock, answer
 * nothing but `not_leader`, and take over when the leader resigned or the
 * log stopped growing for `takeoverTimeoutMs` (see `leadership.ts`).
 *
 * @module
 */
import type { BrokerIdentity, QueueState } from "../core/state.ts";
import { decideStandby, type LogObservation } from "./leadership.ts";
import type { LoadedState, Opened, StateStore } from "./state_store.ts";

/** What the standby loop needs from the broker. */
export interface StandbyOptions {
  /** The persistence seam. */
  stateStore: StateStore;
  /** The current time, epoch ms. */
  now: () => number;
  /** Takeover after this long without log growth (standby's clock). */
  takeoverTimeoutMs: number;
  /** Resolves after the poll interval, or earlier when a request arrives or the broker stops. */
  pause: () => Promise<void>;
  /** Answers every queued request with `not_leader`. */
  rejectQueued: () => void;
  /** Whether the broker is stopping (or no longer a standby). */
  done: () => boolean;
  /** The state the standby has read so far. */
  state: () => QueueState;
  /** Records what was read: the state and the leader the head names. */
  observe: (state: QueueState, leader: BrokerIdentity | null) => void;
  /** Receives structured events. */
  log: (event: { event: string; [field: string]: unknown }) => void;
}

/** How the standby loop ended. */
export type StandbyOutcome =
  | { kind: "leader"; loaded: LoadedState }
  | { kind: "reopen"; opened: Opened }
  | { kind: "done" };

/** Follows the log until this broker takes over, the head is no longer a head, or the broker stops. */
export async function followLeader(options: StandbyOptions): Promise<StandbyOutcome> {
  const { stateStore, now } = options;
  let seen: LogObservation = {
    epoch: options.state().epoch,
    commit: options.state().commit,
    since: now(),
  };
  while (!options.done()) {
    options.rejectQueued();
    await options.pause();
    options.rejectQueued();
    if (options.done()) break;
    let followed;
    try {
      followed = await stateStore.follow(options.state());
    } catch (error) {
      options.log({ event: "standby-read-error", error: String(error) });
      continue;
    }
    const { opened, state } = followed;
    if (opened.kind !== "head") return { kind: "reopen", opened };
    options.observe(state, opened.head.leader);
    const decision = decideStandby({
      seen,
      reading: {
        epoch: opened.head.epoch,
        commit: state.commit,
        hasLeader: opened.head.leader !== null,
      },
      now: now(),
      takeoverTimeoutMs: options.takeoverTimeoutMs,
    });
    seen = decision.seen;
    if (decision.action === "take-over") {
      const loaded = await stateStore.takeOver(opened);
      if (loaded !== null) return { kind: "leader", loaded };
      seen = { ...seen, since: now() };
    }
  }
  return { kind: "done" };
}
