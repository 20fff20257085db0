/**
 * How a broker joins its queue, from what the head key holds: create the
 * queue when absent, convert a version-1 state, take over when the head names
 * no leader (or this broker), or stand by behind another leader
 * ({@linkcode joinQueue}); a serverless instance, which never leads, only
 * opens it ({@linkcode openSharedQueue}).
 *
 * @module
 */
import { UnavailableError } from "../errors.ts";
import type { BrokerIdentity, QueueState } from "../core/state.ts";
import type { LoadedState, Opened, StateStore } from "./state_store.ts";

/** What joining found: leadership (with the loaded state), or a standby's view. */
export type Joined =
  | { kind: "leader"; loaded: LoadedState; how: string }
  | { kind: "standby"; state: QueueState; leader: BrokerIdentity | null; reason: string };

/** Acts on `opened` (re-reading the head after a lost race) until leader or standby. */
export async function joinQueue(
  stateStore: StateStore,
  identity: BrokerIdentity,
  opened: Opened,
): Promise<Joined> {
  for (;;) {
    if (opened.kind === "absent") {
      const created = await stateStore.create();
      if (created !== null) return { kind: "leader", loaded: created, how: "created" };
    } else if (opened.kind === "v1") {
      const leader = opened.state.leader;
      if (leader !== null && leader.id !== identity.id) {
        return { kind: "standby", state: opened.state, leader, reason: "a version-1 broker leads" };
      }
      const migrated = await stateStore.migrate(opened);
      if (migrated !== null) {
        return { kind: "leader", loaded: migrated, how: "migrated from version 1" };
      }
    } else {
      const leader = opened.head.leader;
      if (leader !== null && leader.id !== identity.id) {
        const { state } = await stateStore.load(opened);
        return { kind: "standby", state, leader, reason: "another broker leads" };
      }
      const loaded = await stateStore.takeOver(opened);
      if (loaded !== null) return { kind: "leader", loaded, how: "takeover" };
    }
    opened = await stateStore.open(); // lost a race: look again
  }
}

/**
 * Opens the queue for a serverless instance: creates it when absent, converts
 * a version-1 state, else loads the head's state as it is (in its epoch: no
 * takeover). Re-reads the head after a lost race, and gives up with
 * `unavailable` when it kept changing.
 */
export async function openSharedQueue(stateStore: StateStore): Promise<LoadedState> {
  for (let attempt = 0;; attempt++) {
    const opened = await stateStore.open();
    let loaded: LoadedState | null;
    if (opened.kind === "absent") loaded = await stateStore.create();
    else if (opened.kind === "v1") loaded = await stateStore.migrate(opened);
    else loaded = await stateStore.load(opened);
    if (loaded !== null) return loaded;
    if (attempt >= 8) throw new UnavailableError("could not open the queue: it kept changing");
  }
}
