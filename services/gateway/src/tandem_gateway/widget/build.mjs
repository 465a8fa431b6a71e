// Builds widget.js: `npm run build:widget` (or `node build.mjs --outfile FILE`).
// The output is committed, so the gateway serves it without Node at runtime; the test
// suite rebuilds it to check the committed file is not stale.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--outfile");
const outfile = flag >= 0 ? path.resolve(process.argv[flag + 1]) : path.join(here, "..", "static", "widget.js");

await build({
  entryPoints: [path.join(here, "src", "main.ts")],
  outfile,
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "none",
  charset: "utf8",
  banner: { js: "/* Tandem chat widget — Apache-2.0 — source: services/gateway/src/tandem_gateway/widget */" },
  logLevel: "warning",
});
