/**
 * Bundles the browser example's page script (`app.ts`, with osqueue's worker
 * client and `zod/mini`) into one minified ES module with `deno bundle
 * --platform browser`, and prints its size, raw and gzipped.
 *
 * ```sh
 * deno task bundle:browser                      # writes examples/browser/dist/app.js
 * deno run -A examples/browser/bundle.ts --out /tmp/app.js
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Where the bundle goes by default (ignored by git). */
export const DEFAULT_OUT: string = new URL("./dist/app.js", import.meta.url).pathname;

/** The size of a bundle. */
export interface BundleSize {
  /** Bytes of the minified bundle. */
  bytes: number;
  /** Bytes after gzip. */
  gzipBytes: number;
}

/** Bundles `app.ts` into `out`; returns its size. Throws with deno's output when bundling fails. */
export async function bundleBrowserExample(out: string = DEFAULT_OUT): Promise<BundleSize> {
  const entry = new URL("./app.ts", import.meta.url).pathname;
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--minify", "-o", out, entry],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const decoder = new TextDecoder();
    throw new Error(
      `deno bundle failed (${result.code}):\n${decoder.decode(result.stdout)}${
        decoder.decode(result.stderr)
      }`,
    );
  }
  const code = await Deno.readFile(out);
  const gzipped = await new Response(
    new Blob([code]).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer();
  return { bytes: code.byteLength, gzipBytes: gzipped.byteLength };
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { out: { type: "string" } } });
  const out = values.out ?? DEFAULT_OUT;
  await Deno.mkdir(new URL(".", `file://${out}`).pathname, { recursive: true });
  const size = await bundleBrowserExample(out);
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  console.log(`${out}: ${kb(size.bytes)} minified, ${kb(size.gzipBytes)} gzipped`);
}
