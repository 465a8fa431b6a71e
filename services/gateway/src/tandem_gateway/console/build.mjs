// Builds the agent console, the dashboard and the accept-invitation page:
// `npm run build:console` (or `node build.mjs --outdir DIR`). The outputs, static/console.js,
// static/dashboard.js and static/invitation.js, are committed so the gateway serves them
// without Node.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--outdir");
const outdir = flag >= 0 ? path.resolve(process.argv[flag + 1]) : path.join(here, "..", "static");

await build({
  entryPoints: {
    console: path.join(here, "src", "console.ts"),
    dashboard: path.join(here, "src", "dashboard.ts"),
    invitation: path.join(here, "src", "invitation.ts"),
  },
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  legalComments: "none",
  charset: "utf8",
  banner: { js: "/* Tandem console — Apache-2.0 — source: services/gateway/src/tandem_gateway/console */" },
  logLevel: "warning",
});
