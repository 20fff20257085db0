/**
 * osqueue on Deno Deploy (or any `deno serve` host that runs several
 * instances behind one URL): a `fetch` handler serving the broker's
 * WebSocket RPC and REST API, with a serverless broker behind it (every
 * instance serves every request, no leader) and the state in an S3-compatible
 * bucket configured from the environment (`OSQUEUE_STORAGE=s3://bucket/prefix`,
 * `OSQUEUE_S3_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`,
 * `AWS_SECRET_ACCESS_KEY`, `OSQUEUE_TOKEN`, `OSQUEUE_POLL_INTERVAL_MS`,
 * `OSQUEUE_MIN_COMMIT_INTERVAL_MS`). See the README's "Deno Deploy" section.
 *
 * @example main.ts, run with `deno serve -A main.ts` or deployed as is
 * ```ts ignore
 * import { createDeployHandler } from "@osqueue/osqueue/deploy";
 *
 * export default createDeployHandler();
 * ```
 *
 * @module
 */
export {
  brokerOptionsFromEnv,
  createDeployHandler,
  type DeployHandler,
  type DeployHandlerOptions,
  type EnvReader,
  storeFromEnv,
} from "./handler.ts";
export {
  ServerlessBroker,
  type ServerlessBrokerOptions,
  type ServerlessMetrics,
} from "../broker/serverless.ts";
export type { JanitorMetrics } from "../broker/serverless_janitor.ts";
