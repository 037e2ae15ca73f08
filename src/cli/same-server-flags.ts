import type { ApiClientFlags } from './client-flags.js';

/**
 * What a hint's command needs to reach the same server: nothing the environment gave, which it reads
 * again; `--server` given as a flag, without which the hint would read the local store instead, and
 * `--token` with a placeholder (the secret is not printed). `server`: the address as given, with the
 * prefix a reverse proxy serves it under (ServerClient.server).
 */
export function sameServerFlags(flags: ApiClientFlags, server: string): string {
  const named = flags.server === undefined ? '' : ` --server ${server}`;
  return `${named}${flags.token === undefined ? '' : ' --token TOKEN'}`;
}
