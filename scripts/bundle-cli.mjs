// Bundles the CLI (src/cli/main.ts), minified: start-up time is dominated by resolving and compiling
// modules, and one file cuts `valkyrie run` → first step by about a third (see bench/RESULTS.md).
// Two builds of it, and dist/valkyrie.js (src/cli/entry.ts) picks one per start:
// - one CommonJS file, which entry.ts compiles with a V8 code cache (src/cli/code-cache.ts; Node 20
//   caches no ES module's code): the fastest start, once the command's first run wrote its cache;
// - ES modules split into chunks (dist/valkyrie-esm.js), for where no cache can be written: what is
//   imported dynamically (the Postgres store, the commands other than the one being run) stays out
//   of the start-up path, where compiling all of the CommonJS file would cost more.
// better-sqlite3 stays external because it loads a native addon, and pg optionally loads
// pg-native, which is not installed; keeping pg external leaves that to Node.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename } from 'node:path';
import { build } from 'esbuild';

// Both builds sit beside dist/valkyrie.js, not in a folder of their own: bundled modules find the
// spawners (libexec/, dist/executors/) by paths relative to their own file. Chunk and bundle names
// carry content hashes (the CommonJS one also names its code caches), so earlier builds' files,
// caches included, are removed first.
const earlierOutput =
  /^valkyrie-[a-z-]+-[A-Z0-9]+\.(js|cjs)(\.map|\.LEGAL\.txt|\.[a-z-]+\.v8cache(\.\d+\.tmp)?)?$/;
for (const name of readdirSync('dist', { withFileTypes: true })) {
  if (name.isFile() && earlierOutput.test(name.name)) rmSync(`dist/${name.name}`);
}

await build({
  entryPoints: { 'valkyrie-esm': 'src/cli/main.ts' },
  outdir: 'dist',
  chunkNames: 'valkyrie-[name]-[hash]',
  splitting: true,
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3', 'pg'],
  // CommonJS dependencies call require(); an ESM bundle has to provide it.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});

const cli = await build({
  entryPoints: { 'valkyrie-cli': 'src/cli/main.ts' },
  outdir: 'dist',
  entryNames: '[name]-[hash]',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  minify: true,
  sourcemap: 'linked',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['better-sqlite3', 'pg'],
  // The bundled modules are ES modules that find files relative to import.meta.url.
  define: { 'import.meta.url': '__valkyrie_bundle_url' },
  // Licence comments of the bundled packages go to a file of their own: they are not all ASCII, and
  // an ASCII bundle loads faster (see code-cache.ts).
  legalComments: 'external',
  banner: { js: "const __valkyrie_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  metafile: true,
  logLevel: 'warning',
});
const [bundlePath] = Object.keys(cli.metafile.outputs).filter((path) => path.endsWith('.cjs'));
if (bundlePath === undefined) throw new Error('bundle-cli: esbuild wrote no .cjs file');
// A script compiled by vm.Script has no loader for import(): any left would fail at run time.
if (/[^\w$.]import\(/.test(readFileSync(bundlePath, 'utf8'))) {
  throw new Error(`bundle-cli: ${bundlePath} still contains a dynamic import()`);
}

await build({
  entryPoints: { valkyrie: 'src/cli/entry.ts' },
  outdir: 'dist',
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  define: { VALKYRIE_CLI_BUNDLE: JSON.stringify(basename(bundlePath)) },
  logLevel: 'warning',
});
