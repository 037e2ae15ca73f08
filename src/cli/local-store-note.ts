/** The flags by which a command names its local store itself. */
export interface LocalStoreFlags {
  readonly stateDir?: string;
  readonly db?: string;
}

/**
 * A line on stderr for a shell that exports VALKYRIE_TOKEN and names no server, when the local store
 * has no runs or not the one asked for (`runs`, `show`, `logs`, `cancel`, `rerun`): the token is left
 * unused on purpose (it is often exported for submit), but "No runs yet" or "no run 12" then read as
 * a server's answer. Not when --state-dir, --db or VALKYRIE_DB names the store: that was asked for,
 * and VALKYRIE_DB may be a Postgres that a server shares, not "this machine's local store".
 */
export function noteLocalStore(flags: LocalStoreFlags, what: string): void {
  const storeNamed =
    flags.stateDir !== undefined || flags.db !== undefined || Boolean(process.env.VALKYRIE_DB);
  if (!process.env.VALKYRIE_TOKEN || storeNamed) return;
  process.stderr.write(
    `valkyrie: note: ${what}; VALKYRIE_TOKEN is set, but it is for a server: pass --server URL or set VALKYRIE_SERVER to read a server's runs\n`,
  );
}

/** noteLocalStore's line for a run the local store does not have. */
export const noteRunNotInLocalStore = (flags: LocalStoreFlags, id: string): void =>
  noteLocalStore(flags, `run ${JSON.stringify(id)} was looked for in this machine's local store`);
