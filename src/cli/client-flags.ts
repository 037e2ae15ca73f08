import { isBlockedPort } from '../core/blocked-ports.js';
import { tokenTextProblem } from '../core/token-text.js';
import { UsageError } from './exit-codes.js';

/** Where a client command finds the server: `--server`/`--token`, else VALKYRIE_SERVER/VALKYRIE_TOKEN. */
export interface ApiClientFlags {
  readonly server?: string;
  readonly token?: string;
}

/**
 * True when the command is to talk to a server rather than a local store: `--server`, or
 * VALKYRIE_SERVER unless the command names a local store itself (`--state-dir`, `--db`: a shell that
 * exports VALKYRIE_SERVER must not turn `valkyrie cancel 1 --state-dir D` into a cancel of the
 * server's run 1). `--server` with a local store flag names two stores: a usage error. So is a
 * `--token` on the command line with no server at all: it was meant for one, and the local store
 * would answer instead (`runs` saying there are no runs) as if the server had none.
 */
export function serverGiven(
  flags: ApiClientFlags & { readonly stateDir?: string; readonly db?: string },
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  const server = flags.server ?? env.VALKYRIE_SERVER ?? '';
  // An exported VALKYRIE_TOKEN (often there for other commands) is no reason to refuse: only a flag.
  if (server === '' && flags.token !== undefined && flags.stateDir === undefined && flags.db === undefined)
    throw new UsageError(
      '--token is for a server, and no server is given: pass --server URL or set VALKYRIE_SERVER (without one, the command reads the local store)',
    );
  if (server === '') return false;
  if (flags.stateDir === undefined && flags.db === undefined) return true;
  if (flags.server !== undefined)
    throw new UsageError('--server names a server, and --state-dir or --db a local store: give one');
  return false;
}

/**
 * The token of `--token`, else VALKYRIE_TOKEN; undefined when neither gives one. White space around
 * it is dropped, as `valkyrie runner --token-file` drops a file's (and a header's would be). One with
 * white space or another character inside that no header carries (more than the token pasted, two
 * lines) is a usage error naming where it came from, before anything is sent: the server could only
 * say that the Authorization header was malformed, a header the user never wrote.
 */
export function clientToken(flags: ApiClientFlags, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const [given, source] =
    flags.token !== undefined ? [flags.token, '--token'] : [env.VALKYRIE_TOKEN, 'VALKYRIE_TOKEN'];
  const token = given?.trim();
  if (token === undefined || token === '') return undefined;
  const problem = tokenTextProblem(token);
  if (problem !== undefined) throw new UsageError(`${source} ${problem}`);
  return token;
}

/** Where a server URL came from, for its errors to name: an operator looks for the one they set. */
export type ServerSource = '--server' | 'VALKYRIE_SERVER';

/** `--server` when the flag gave the URL, else `VALKYRIE_SERVER`. */
export const serverSource = (flag: string | undefined): ServerSource =>
  flag === undefined ? 'VALKYRIE_SERVER' : '--server';

/**
 * A `--server` value (or VALKYRIE_SERVER's, `from`) checked and made a base URL (no trailing slash): http or https, no query or
 * fragment, since API and protocol paths are appended to it, and no user name or password.
 */
export function serverBaseUrl(value: string, from: ServerSource = '--server'): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new UsageError(
      `${from} must be an http:// or https:// URL, received ${JSON.stringify(value)}${schemeHint(value)}`,
    );
  if (url.search !== '' || url.hash !== '')
    throw new UsageError(`${from} takes no query or fragment, received ${JSON.stringify(value)}`);
  // fetch refuses a URL with credentials in it, which read as an unreachable server; the password is not echoed.
  if (url.username !== '' || url.password !== '') {
    const shown = new URL(url.href);
    if (shown.password !== '') shown.password = '***';
    throw new UsageError(
      `${from} takes no user name or password (authenticate with --token), received ${JSON.stringify(shown.href.replace(/\/$/, ''))}`,
    );
  }
  // A path of the server's own (copied from a browser or a curl line) would be doubled by every request.
  const own = /\/(?:api\/v1(?:\/.*)?|healthz|readyz|metrics)\/?$/.exec(url.pathname);
  if (own !== null) {
    const base = `${url.origin}${url.pathname.slice(0, own.index)}`;
    throw new UsageError(
      `${from} is the server's address, which the API's paths are added to: drop ${JSON.stringify(own[0])} (received ${JSON.stringify(value)}; try ${base})`,
    );
  }
  if (url.port !== '' && isBlockedPort(Number(url.port)))
    throw new UsageError(
      `${from}: port ${url.port} is one that fetch never connects to (a blocked port), received ${JSON.stringify(value)}; run the server on another port`,
    );
  return url.href.replace(/\/+$/, '');
}

/**
 * `; try http://HOST:PORT` for an address given without its scheme (`127.0.0.1:7070`,
 * `ci.example:7070`), which URL reads as a scheme of its own; nothing for any other value.
 */
function schemeHint(value: string): string {
  if (value.includes('://') || !URL.canParse(`http://${value}`)) return '';
  // The parsed URL's text, which escapes what the value may hold that would act on a terminal.
  return `; try ${new URL(`http://${value}`).href.replace(/\/+$/, '')}`;
}
