/**
 * Serves the browser example: `index.html` and the bundled `app.js` (run
 * `deno task bundle:browser` first). The page can be served from any origin;
 * it talks to the broker over WebSocket only.
 *
 * ```sh
 * deno run --allow-net --allow-read examples/browser/serve.ts [--port 8000] [--dist DIR]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DEFAULT_OUT } from "./bundle.ts";

/** Options of {@linkcode serveBrowserExample}. */
export interface ServeBrowserExampleOptions {
  /** Port (default 8000; 0 picks a free one). */
  port?: number;
  /** Interface (default `127.0.0.1`). */
  hostname?: string;
  /** The bundled page script (default `examples/browser/dist/app.js`). */
  appJs?: string;
}

/** Starts the static server; returns it with the page's URL. */
export function serveBrowserExample(
  options: ServeBrowserExampleOptions = {},
): { server: Deno.HttpServer<Deno.NetAddr>; url: string } {
  const indexHtml = new URL("./index.html", import.meta.url).pathname;
  const appJs = options.appJs ?? DEFAULT_OUT;
  const files: Record<string, [string, string]> = {
    "/": [indexHtml, "text/html; charset=utf-8"],
    "/index.html": [indexHtml, "text/html; charset=utf-8"],
    "/app.js": [appJs, "text/javascript; charset=utf-8"],
  };
  const server = Deno.serve({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8000,
    onListen: () => {},
  }, async (request) => {
    const file = files[new URL(request.url).pathname];
    if (request.method !== "GET" || file === undefined) {
      return new Response("not found", { status: 404 });
    }
    try {
      return new Response(await Deno.readFile(file[0]), {
        headers: { "content-type": file[1], "cache-control": "no-store" },
      });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      return new Response(`${file[0]} is missing: run "deno task bundle:browser"`, { status: 404 });
    }
  });
  return { server, url: `http://${server.addr.hostname}:${server.addr.port}/` };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8000" }, dist: { type: "string" } },
  });
  const appJs = values.dist === undefined ? undefined : `${values.dist}/app.js`;
  const { url } = serveBrowserExample({ port: Number(values.port), appJs });
  console.log(`browser example on ${url} (add ?broker=http://127.0.0.1:8080&token=… to connect)`);
}
