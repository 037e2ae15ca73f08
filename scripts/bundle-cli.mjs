// Bundles the CLI into one minified file: start-up time is dominated by resolving and compiling
// modules, and one file cuts `valkyrie run` → first step by about a third (see bench/RESULTS.md).
// better-sqlite3 stays external because it loads a native addon, and pg (see below).
// Code splitting keeps what is imported dynamically (the Postgres store, the commands other than the
// one being run) out of the start-up path: without it esbuild hoists every external import, pg's too,
// to the top of the one file, and loading pg alone pulls in Node's undici.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names carry content hashes: without this, every build would leave the previous chunks behind.
rmSync('dist/chunks', { recursive: true, force: true });

await build({
  entryPoints: { valkyrie: 'src/cli/main.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
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
