/**
 * osqueue on Deno Deploy: the whole server is this file. Run it locally with
 *
 * ```sh
 * OSQUEUE_STORAGE=s3://my-bucket/queues/main OSQUEUE_S3_ENDPOINT=http://127.0.0.1:7480 \
 *   AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… OSQUEUE_TOKEN=secret \
 *   deno serve --allow-net --allow-env --allow-read --allow-sys=osRelease examples/deploy/main.ts
 * ```
 *
 * and point workers and producers at the URL (`connectClient({url, token})`).
 * Several instances (`deno serve --parallel`, or Deploy's own) serve the same
 * queue; none of them is a leader.
 *
 * @module
 */
import { createDeployHandler } from "../../deploy/mod.ts";

const log = Deno.env.get("OSQUEUE_LOG") === "1" ? (line: string) => console.log(line) : undefined;

export default createDeployHandler(log === undefined ? {} : { log });
