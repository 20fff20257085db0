/**
 * {@linkcode createShutdownHandler}: stops a worker once when the host's
 * shutdown signal arrives. The worker never touches process APIs itself.
 *
 * @module
 */
import type { WorkerStopOptions } from "./worker_options.ts";

/** Anything that stops gracefully (a `Worker`). */
export interface Stoppable {
  /** Stops, within the optional deadline. */
  stop(options?: WorkerStopOptions): Promise<void>;
}

/** Options of {@linkcode createShutdownHandler}. */
export interface ShutdownHandlerOptions extends WorkerStopOptions {
  /** Called once the worker has stopped (e.g. to close the client and exit). */
  onStopped?: () => void;
  /** Called when stopping failed. */
  onError?: (error: unknown) => void;
}

/**
 * Returns a listener for the host's shutdown signals that stops `worker`
 * once (later calls are ignored). The worker module never touches process
 * APIs; the host wires them:
 *
 * ```ts ignore
 * const onSignal = createShutdownHandler(worker, { onStopped: () => Deno.exit(0) });
 * Deno.addSignalListener("SIGINT", onSignal);
 * Deno.addSignalListener("SIGTERM", onSignal);
 * ```
 */
export function createShutdownHandler(
  worker: Stoppable,
  options: ShutdownHandlerOptions = {},
): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    const stopOptions: WorkerStopOptions = {};
    if (options.timeoutMs !== undefined) stopOptions.timeoutMs = options.timeoutMs;
    worker.stop(stopOptions).then(
      () => options.onStopped?.(),
      (error) => options.onError?.(error),
    );
  };
}
