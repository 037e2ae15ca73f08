import { fileURLToPath } from 'node:url';
import { loadCachedBundle } from './code-cache.js';

/**
 * dist/valkyrie.js, what bin/valkyrie.js imports: it runs the CLI bundle (main.ts, built as one
 * CommonJS file by scripts/bundle-cli.mjs, which replaces this name) from a V8 code cache.
 * VALKYRIE_CODE_CACHE=0 runs it without one.
 */
declare const VALKYRIE_CLI_BUNDLE: string;

type Main = (argv: string[]) => Promise<number>;

export async function main(argv: string[]): Promise<number> {
  const bundle = fileURLToPath(new URL(`./${VALKYRIE_CLI_BUNDLE}`, import.meta.url));
  const cache = process.env.VALKYRIE_CODE_CACHE === '0' ? undefined : `${bundle}.${commandKey(argv)}.v8cache`;
  const loaded = loadCachedBundle(bundle, cache);
  const run = loaded.exports.main;
  if (!isMain(run)) throw new Error(`${bundle} exports no main()`);
  const code = await run(argv);
  loaded.saveCodeCache();
  return code;
}

function isMain(value: unknown): value is Main {
  return typeof value === 'function';
}

/**
 * One cache per command: a cache holds the functions its first run compiled, and `valkyrie run`
 * compiles other ones than `valkyrie server` or `valkyrie --help`.
 */
function commandKey(argv: readonly string[]): string {
  const command = argv.find((arg) => !arg.startsWith('-'));
  if (command === undefined) return 'none';
  return /^[a-z][a-z-]{0,30}$/.test(command) ? command : 'other';
}
