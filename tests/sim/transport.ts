/**
 * The WebSocket transport (real client and session code): not built yet.
 *
 * @module
 */
import type { TransportFactory } from "./simulation.ts";

/** Placeholder: uses the direct transport. */
export const wsTransport: TransportFactory = (_context, direct) => direct();
