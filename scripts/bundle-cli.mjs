// Bundles the CLI into one minified file: start-up time is dominated by resolving and compiling
// modules, and one file cuts `valkyrie run` → first step by about a third (see bench/RESULTS.md).
// better-sqlite3 stays external because it loads a native addon, and pg (see below).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/valkyrie.js',
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // pg optionally loads pg-native, which is not installed; keeping pg external leaves that to Node.
  external: ['better-sqlite3', 'pg'],
  // CommonJS dependencies call require(); an ESM bundle has to provide it.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
