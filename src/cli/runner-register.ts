import { join } from 'node:path';
import { credentialsFileName } from '../core/runner-credentials-file.js';
import { sha256Hex } from '../core/sha256.js';
import { sleep } from '../core/sleep.js';
import { backoffWait } from '../protocol/backoff.js';
import type { RunnerInfo } from '../protocol/messages.js';
import {
  type Registration,
  type RunnerCredentials,
  registerRunner,
  writeCredentials,
} from '../runner/registration.js';
import type { ConnectionLines } from './connection-lines.js';
import type { RunnerSettings } from './runner-options.js';

/** How registering ended: the server's answer, or `stopped` when the signal ended the wait first. */
export type RegisterOutcome = Exclude<Registration, { kind: 'unreachable' }> | { readonly kind: 'stopped' };

/** Say that the server took the registration request and has not answered yet after this long. */
const silentServerNoticeMs = 2_000;

/**
 * Registers with `token`, trying again with backoff while the server cannot be reached. Each failed
 * attempt is a round for `lines`, which tells it as it tells an outage of a connected runner (each
 * round while the backoff grows, then at most one a minute); the caller ends it with `lines.reached`.
 * A refusal or an untrusted certificate is the answer: trying again would meet the same.
 */
export async function registerWhenReachable(
  server: string,
  token: string,
  info: RunnerInfo,
  lines: ConnectionLines,
  say: (line: string) => void,
  signal: AbortSignal,
): Promise<RegisterOutcome> {
  lines.connecting();
  for (let attempt = 0; ; attempt++) {
    // Registering is not sent again while an answer may still come (it would make a second runner),
    // so a server that took the request and stays silent is waited for, and said to be.
    const notice = setTimeout(
      () => say(`waiting for ${server} to answer the registration request`),
      silentServerNoticeMs,
    );
    const result = await registerRunner(server, token, info, signal).finally(() => clearTimeout(notice));
    if (signal.aborted) return { kind: 'stopped' };
    if (result.kind !== 'unreachable') return result;
    const { delayMs, atCap } = backoffWait(attempt, Math.random);
    lines.unreachable({
      reason: `registration: ${result.reason}`,
      retryInMs: delayMs,
      atCap,
      failed: result.failed,
    });
    await sleep(delayMs, signal);
    if (signal.aborted) return { kind: 'stopped' };
  }
}

/**
 * A token given on purpose (a new one, or a submit token by mistake) would otherwise go unused unsaid.
 * Said once per token: a service restarts with the same command line every time, and its token file
 * still holds the token it registered with. So the token it registered with is not told, and one told
 * is remembered in runner.json (tokenSha256) for the next start; if that write fails, it is told again.
 */
export function tellIgnoredToken(
  settings: RunnerSettings,
  stored: RunnerCredentials,
  complain: (line: string) => void,
): void {
  if (settings.tokenFlag === undefined || settings.token === undefined) return;
  const digest = sha256Hex(settings.token);
  if (stored.tokenSha256 === digest) return;
  const file = join(settings.workDir, credentialsFileName);
  complain(
    `${settings.tokenFlag} is ignored: this work dir's runner is registered with ${settings.server} as ` +
      `${stored.runnerId}, and connects with the credential stored in ${file}. ` +
      `To register again as a new runner, delete ${file} and start with ${settings.tokenFlag}.`,
  );
  writeCredentials(settings.workDir, { ...stored, tokenSha256: digest });
}

/**
 * The line said when registering with this server replaced the credential runner.json held for
 * another: that runner's only copy, lost without a word before (a URL spelled anew, localhost for
 * 127.0.0.1 or https for http, registered a second runner, the first left listed on its server).
 */
export function replacedCredentialLine(
  settings: RunnerSettings,
  replaced: RunnerCredentials,
  runnerId: string,
): string {
  const file = join(settings.workDir, credentialsFileName);
  return (
    `${file} held the credential of runner ${replaced.runnerId} of ${replaced.server}, not of ${settings.server}: ` +
    `registering with ${settings.server} as ${runnerId} replaced it, and that runner cannot connect again; ` +
    `take it off its list with valkyrie runners remove ${replaced.runnerId} --server ${replaced.server}`
  );
}

/**
 * The line for a registration the server refused. A refused token (401, 403) says where the token came
 * from: VALKYRIE_TOKEN is often an admin token exported for the client commands, not one for this. A
 * 404 is an address without the registration route, which no other token would change.
 */
export function registrationRefusal(
  refusal: { readonly status: number; readonly code: string; readonly message: string },
  settings: RunnerSettings,
): string {
  const { status, code, message } = refusal;
  const refused = `the server refused to register this runner (${status} ${code}): ${message}`;
  // What to do too, as a refused credential's line says it: the token is wrong, not the server.
  if (status === 401 || status === 403)
    return (
      `${refused}; the token came from ${settings.tokenFlag ?? 'VALKYRIE_TOKEN (no --token or --token-file was given)'}. ` +
      'Start it with a registration token, made by valkyrie token create --role runner.'
    );
  if (status === 404)
    return `${refused}; is ${settings.server} the server's address? Give --server (or VALKYRIE_SERVER) the one its "valkyrie server listening on" line shows`;
  return refused;
}
