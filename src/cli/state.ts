import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { durationHint, parseDuration } from '../core/duration.js';
import { isValkyrieError } from '../core/errors.js';
import { foreignUrlScheme, isPostgresUrl } from '../core/store-target.js';
import { isDirectory } from '../platform/is-directory.js';
import { schemaProblem, urlParameterProblem } from '../store/postgres/target.js';
import type { UnansweredEvent } from '../store/postgres/unanswered-calls.js';
import type { DeletedFileEvent } from '../store/sqlite/index.js';
import type { Stores } from '../store/store.js';
import { UsageError } from './exit-codes.js';
import { flagOrVariablePath } from './home-path.js';
import { nearestStateDir } from './nearest-state-dir.js';
import { unansweredNoticeMs } from './retry-wait.js';

/**
 * Where local state lives: `--state-dir`, else $VALKYRIE_STATE_DIR, else `.valkyrie` in the workspace.
 * `nearest`, for commands about runs that exist (runs, show, logs, cancel, resume, rerun): when `cwd`
 * has no `.valkyrie`, the nearest ancestor's that holds a database of this user's, up to $HOME
 * (nearestStateDir). `valkyrie run` does not look up: the state goes with the workspace it runs in, `cwd`.
 */
export function stateDirectory(
  option: string | undefined,
  cwd: string,
  { nearest = false }: { readonly nearest?: boolean } = {},
): string {
  const here = directoryOption('--state-dir', option, 'VALKYRIE_STATE_DIR', cwd);
  if (option !== undefined || process.env.VALKYRIE_STATE_DIR !== undefined || !nearest || existsSync(here))
    return here;
  return nearestStateDir(cwd) ?? here;
}

/**
 * The directory `flag` (else $`variable`, else `.valkyrie`) names, resolved from `cwd`; refused when it
 * is a file, naming where it came from (making it failed with EEXIST, or a server started without a
 * place for its bundles).
 */
export function directoryOption(
  flag: string,
  option: string | undefined,
  variable: string,
  cwd: string,
): string {
  const given = flagOrVariablePath(flag, option, variable);
  const path = resolve(cwd, given ?? '.valkyrie');
  if (existsSync(path) && !isDirectory(path)) {
    const source = option !== undefined ? flag : given !== undefined ? variable : `the default ${flag}`;
    throw new UsageError(`${source}: ${path} is a file, not a directory`);
  }
  return path;
}

/**
 * A command that waits on a Postgres that stopped answering says so, instead of hanging without a word
 * (a command that runs a run exits at the third Ctrl-C, leaving it interrupted; docs/recovery.md).
 */
function reportUnanswered(event: UnansweredEvent): void {
  const seconds = (ms: number) => `${Math.round(ms / 1000)}s`;
  process.stderr.write(
    event.kind === 'waiting'
      ? `valkyrie: Postgres at ${event.server} has not answered for ${seconds(event.forMs)}; still waiting for it\n`
      : `valkyrie: Postgres at ${event.server}: the call that waited ended, after ${seconds(event.afterMs)}\n`,
  );
}

/**
 * Opens the store named by `--db` (or $VALKYRIE_DB): a `postgres://` URL — with an optional
 * `?schema=NAME` that Valkyrie strips and uses as its own schema — or a SQLite file path. By default,
 * `valkyrie.db` in the state directory. Each driver is loaded only when it is used. `create: false`,
 * for commands about runs that exist (runs, show, logs, cancel, resume, rerun): the default SQLite
 * file, when it does not exist, is not created, and they see an empty store (nothing has run there); a
 * file `--db` or $VALKYRIE_DB names must exist, and so must a Postgres schema holding Valkyrie's
 * tables. `watch` (default: `create`), for commands that run steps (resume, rerun): an existing SQLite
 * file is watched for a step deleting it, and the state directory gets its .gitignore. `readOnly`, for
 * commands that only read (runs, show, logs): a SQLite file this user cannot write (a read-only file
 * system, another user's directory) is read as it is rather than refused.
 */
export async function openStores(
  db: string | undefined,
  stateDir: string,
  {
    create = true,
    watch = create,
    readOnly = false,
    directoryFlag = '--state-dir',
  }: {
    readonly create?: boolean;
    readonly watch?: boolean;
    readonly readOnly?: boolean;
    /** The command's flag for the directory that holds the default file, for a --db that names one. */
    readonly directoryFlag?: '--state-dir' | '--data-dir';
  } = {},
): Promise<Stores> {
  const target = storeTarget(db);
  const source = db === undefined ? 'VALKYRIE_DB' : '--db';
  if (target !== undefined) refuseOtherUrl(target, source);
  if (target !== undefined && isPostgresUrl(target)) {
    const { url, schema } = splitSchema(target, source);
    const { openPostgresStores } = await import('../store/postgres/index.js');
    const unanswered = { afterMs: unansweredNoticeMs, report: reportUnanswered };
    return openPostgresStores(url, { ...(schema === undefined ? {} : { schema }), create, unanswered }).catch(
      (error: unknown) => {
        // As for a SQLite file: a schema named on purpose that is not there is a typo, not a place where nothing ran.
        if (isValkyrieError(error) && error.code === 'VK_STORE_MISSING') {
          throw new UsageError(`${source}: ${error.message}`);
        }
        throw error;
      },
    );
  }
  const { openSqliteStores } = await import('../store/sqlite/index.js');
  const synchronous = sqliteSynchronous(process.env.VALKYRIE_SQLITE_SYNCHRONOUS);
  const busyTimeoutMs = sqliteBusyTimeout(process.env.VALKYRIE_SQLITE_BUSY_TIMEOUT);
  const path = sqlitePath(target, stateDir);
  // SQLite says only "unable to open database file": tell what the flag takes, and the flag for a directory.
  if (target !== undefined && isDirectory(path)) {
    const given =
      source === '--db' ? `--db ${join(path, 'valkyrie.db')}` : `${source}=${join(path, 'valkyrie.db')}`;
    throw new UsageError(
      `${source}: ${path} is a directory, but ${source} takes the SQLite database file itself: give a file, such as ${given}, or leave ${source} out and give ${directoryFlag} ${path} to keep valkyrie.db there`,
    );
  }
  const missing = !create && !existsSync(path);
  // A file named on purpose that is not there is a mistake (a typo), not a place where nothing ran.
  if (missing && target !== undefined) {
    throw new UsageError(`${source}: there is no state database at ${path}`);
  }
  const watched = watch && !missing;
  const options = {
    ...(synchronous === undefined ? {} : { synchronous }),
    ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
    ...(watched ? { onDeleted: (event: DeletedFileEvent) => reportDeleted(event, target, stateDir) } : {}),
  };
  let stores: Stores;
  try {
    stores = openSqliteStores(missing ? ':memory:' : path, options);
  } catch (error) {
    if (!readOnly || missing || !isValkyrieError(error) || error.code !== 'VK_STORE_UNWRITABLE') throw error;
    return openSqliteStores(path, { ...options, readOnly: true });
  }
  // Only once the database has opened: a state directory whose file is refused (corrupt, newer) is left as it was.
  if (target === undefined && watched) ignoreStateFiles(stateDir);
  return stores;
}

/** `--db`, else $VALKYRIE_DB: a Postgres URL, or a SQLite file whose leading `~/` is expanded. */
function storeTarget(db: string | undefined): string | undefined {
  return flagOrVariablePath('--db', db, 'VALKYRIE_DB');
}

/**
 * The SQLite file that `--db` (or $VALKYRIE_DB) and `stateDir` name, as openStores would open it;
 * undefined for Postgres, and for a URL of another store, which openStores refuses.
 */
export function sqliteFileOf(db: string | undefined, stateDir: string): string | undefined {
  const target = storeTarget(db);
  if (target !== undefined && (isPostgresUrl(target) || foreignUrlScheme(target) !== undefined))
    return undefined;
  return sqlitePath(target, stateDir);
}

/** The SQLite file of `target` (--db or $VALKYRIE_DB, when not a Postgres URL), by default valkyrie.db in `stateDir`. */
function sqlitePath(target: string | undefined, stateDir: string): string {
  return target === undefined ? join(stateDir, 'valkyrie.db') : resolve(target);
}

/**
 * What opening the store to create it (openStores) would make that is not there yet: the state
 * directory, or else a SQLite file with its WAL and shared-memory files (and the directory's .gitignore
 * for the default file), or the outermost missing folder a --db file is to go in; nothing for
 * Postgres, whose schema is made by its own migrations. For a command that removes them again when
 * it fails before it did anything with them (removeNewState).
 */
export function newStatePaths(db: string | undefined, stateDir: string): string[] {
  const target = storeTarget(db);
  const paths = existsSync(stateDir) ? [] : [stateDir];
  if (target !== undefined && isPostgresUrl(target)) return paths;
  const file = sqlitePath(target, stateDir);
  const inNewDir = paths.length > 0 && !relative(stateDir, file).startsWith('..');
  if (inNewDir || existsSync(file)) return paths;
  // A --db in folders not made yet: openStores makes them, and they go with the file.
  const newFolder = topmostMissing(dirname(file));
  if (newFolder !== undefined) return [...paths, newFolder];
  paths.push(...['', '-wal', '-shm', '-journal'].map((suffix) => `${file}${suffix}`));
  // The default file's directory gets a .gitignore with it (ignoreStateFiles).
  const ignoreFile = join(stateDir, '.gitignore');
  if (target === undefined && !existsSync(ignoreFile)) paths.push(ignoreFile);
  return paths;
}

/** The outermost folder of `dir` (itself included) that does not exist, or undefined when `dir` does. */
function topmostMissing(dir: string): string | undefined {
  let missing: string | undefined;
  for (let at = dir; !existsSync(at); at = dirname(at)) {
    missing = at;
    if (dirname(at) === at) break;
  }
  return missing;
}

/** Removes what newStatePaths found missing, once the store that made them is closed. */
export function removeNewState(paths: readonly string[]): void {
  for (const path of paths) {
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (error) {
      // Under a file (--data-dir FILE/x): nothing was made there, and the error that ended the start
      // is the one to tell, not this one with a stack trace.
      if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
    }
  }
}

/**
 * The state file was deleted while this process used it — by a step's `git clean -fdx` in the
 * workspace, typically, since the state directory is in it by default: one warning line, and the
 * state directory's .gitignore again once the store has put the file back.
 */
function reportDeleted(event: DeletedFileEvent, target: string | undefined, stateDir: string): void {
  if (event.kind === 'restored') {
    if (target === undefined) ignoreStateFiles(stateDir);
    return;
  }
  const line =
    event.kind === 'deleted'
      ? `the state database ${event.path} was deleted while in use (by a step's \`git clean -fdx\`?): ` +
        'this process writes the history back when it ends, and until then other valkyrie commands do ' +
        'not see it; keep the state out of the workspace with --state-dir DIR (or $VALKYRIE_STATE_DIR)'
      : `the state database ${event.path}, deleted while in use, could not be put back: ${event.reason}`;
  process.stderr.write(`valkyrie: warning: ${line}\n`);
}

/**
 * What `.gitignore` in the state directory says: Valkyrie's own files — the database, its WAL and
 * shared-memory files, a server's bundles, the `tmp/` directory earlier versions kept there, and this
 * file itself, which each clone writes again — but not
 * `workflows/`, where users keep their workflows, nor anything else of theirs. The state directory is
 * in the working tree by default, where steps run: a step's `git add -A` would otherwise commit them.
 */
export const stateIgnoreFile = `# Valkyrie's own state (written by valkyrie); workflows/ and your other files stay tracked.
/.gitignore
/valkyrie.db
/valkyrie.db-*
/tmp/
/bundles/
`;

/**
 * Writes `.gitignore` in the state directory unless there is one: a user's own is never overwritten.
 * Nor is one written where the state directory is the user's own tree — the working directory or one
 * above it (`--state-dir .`), or a directory holding `.git` — since its `/tmp/`, `/bundles/` and
 * `/.gitignore` would untrack the user's files. Best effort: the database has opened there, and an
 * ignore file it cannot write stops nothing.
 */
export function ignoreStateFiles(stateDir: string): void {
  const fromCwd = relative(resolve(stateDir), process.cwd());
  const holdsCwd = fromCwd === '' || !(fromCwd.startsWith('..') || isAbsolute(fromCwd));
  if (holdsCwd || existsSync(join(stateDir, '.git'))) return;
  try {
    writeFileSync(join(stateDir, '.gitignore'), stateIgnoreFile, { flag: 'wx' });
  } catch {
    // EEXIST: the user's, or ours already.
  }
}

/** A `scheme://` value that is not Postgres's is refused (foreignUrlScheme). */
function refuseOtherUrl(target: string, source: string): void {
  const scheme = foreignUrlScheme(target);
  if (scheme === undefined) return;
  throw new UsageError(
    `${source}: ${JSON.stringify(redactPassword(target))} is a ${scheme}:// URL; expected postgres://USER@HOST/DB[?schema=NAME] (or postgresql://…) or a SQLite file path`,
  );
}

const redactPassword = (target: string) => target.replace(/:[^:@/]*@/, ':***@');

/** $VALKYRIE_SQLITE_BUSY_TIMEOUT: how long a write waits for another process's lock (default 5s). */
function sqliteBusyTimeout(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = parseDuration(value);
  if (ms !== undefined) return ms;
  throw new UsageError(
    `VALKYRIE_SQLITE_BUSY_TIMEOUT: expected ${durationHint}, received ${JSON.stringify(value)}`,
  );
}

/** $VALKYRIE_SQLITE_SYNCHRONOUS: `normal` (default; survives a process crash) or `full` (power loss too). */
function sqliteSynchronous(value: string | undefined): 'normal' | 'full' | undefined {
  if (value === undefined || value === '') return undefined;
  const lower = value.toLowerCase();
  if (lower === 'normal' || lower === 'full') return lower;
  throw new UsageError(
    `VALKYRIE_SQLITE_SYNCHRONOUS: expected normal or full, received ${JSON.stringify(value)}`,
  );
}

/**
 * Splits a `--db` Postgres URL into the URL node-postgres gets and Valkyrie's own `?schema=NAME`,
 * refusing (naming `source`, the flag or variable it came from) a URL that does not parse, a
 * parameter node-postgres would ignore, any parameter given twice, and a schema Valkyrie cannot use.
 */
function splitSchema(target: string, source: string): { url: string; schema?: string } {
  let parsed: URL;
  try {
    parsed = new URL(target);
  } catch {
    throw new UsageError(`${source}: not a valid URL: ${JSON.stringify(redactPassword(target))}`);
  }
  const badParameter = urlParameterProblem(parsed, ['schema']);
  if (badParameter !== undefined) throw new UsageError(`${source}: ${badParameter}`);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  const badSchema = schema === undefined ? undefined : schemaProblem(schema);
  if (badSchema !== undefined) throw new UsageError(`${source}: ${badSchema}`);
  parsed.searchParams.delete('schema');
  return schema === undefined ? { url: parsed.toString() } : { url: parsed.toString(), schema };
}
