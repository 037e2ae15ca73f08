import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCachedBundle } from './code-cache.js';

export { lostOutputExitCode, lostOutputLine, outputLoss } from './closed-output.js';

/**
 * dist/valkyrie.js, what bin/valkyrie.js imports. It runs the CLI (main.ts) from one of two builds
 * of it that scripts/bundle-cli.mjs makes: a CommonJS bundle compiled with a V8 code cache (see
 * code-cache.ts), whose name the build puts here, when there is a cache for this command or one can
 * be written; else the ES-module build, split so that a command loads only its own code, which
 * starts faster than the CommonJS bundle without a cache. VALKYRIE_CODE_CACHE=0 forces the latter.
 */
declare const VALKYRIE_CLI_BUNDLE: string;

type Main = (argv: string[]) => Promise<number>;

export async function main(argv: string[]): Promise<number> {
  const bundle = fileURLToPath(new URL(`./${VALKYRIE_CLI_BUNDLE}`, import.meta.url));
  const cache = `${bundle}.${commandKey(argv)}.v8cache`;
  if (process.env.VALKYRIE_CODE_CACHE === '0' || !(existsSync(cache) || writable(dirname(bundle)))) {
    // Not a literal, so that esbuild leaves the ES-module build out of this file.
    const esm: { main?: unknown } = await import(new URL('./valkyrie-esm.js', import.meta.url).href);
    return mainOf(esm.main, 'valkyrie-esm.js')(argv);
  }
  const loaded = loadCachedBundle(bundle, cache);
  const code = await mainOf(loaded.exports.main, bundle)(argv);
  // Only after a command that did its whole work: a cache from a run that stopped at an invalid
  // workflow would lack the engine's functions, and every later run would compile them again.
  if (code === 0) loaded.saveCodeCache();
  return code;
}

function mainOf(value: unknown, where: string): Main {
  if (typeof value !== 'function') throw new Error(`${where} exports no main()`);
  return value as Main;
}

function writable(directory: string): boolean {
  try {
    accessSync(directory, constants.W_OK);
    return true;
  } catch {
    return false;
  }
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
