// Bundles the CLI into one minified file: start-up time is dominated by resolving and compiling
// modules, and one file cuts `valkyrie run` → first step by about a third (see bench/RESULTS.md).
// better-sqlite3 stays external because it loads a native addon, and pg (see below).
// Code splitting keeps what is imported dynamically (the Postgres store, the commands other than the
// one being run) out of the start-up path: without it esbuild hoists every external import, pg's too,
// to the top of the one file, and loading pg alone pulls in Node's undici.
import { readdirSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunks sit beside dist/valkyrie.js, not in a folder of their own: bundled modules find the spawners
// (libexec/, dist/executors/) by paths relative to their own file, the same from every chunk. Their
// names carry content hashes, so the previous build's chunks are removed first.
for (const name of readdirSync('dist', { withFileTypes: true })) {
  if (name.isFile() && /^valkyrie-[a-z]+-[A-Z0-9]+\.js(\.map)?$/.test(name.name)) rmSync(`dist/${name.name}`);
}

await build({
  entryPoints: { valkyrie: 'src/cli/main.ts' },
  outdir: 'dist',
  chunkNames: 'valkyrie-[name]-[hash]',
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
