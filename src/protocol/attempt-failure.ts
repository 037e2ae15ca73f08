import { causeWithCode } from '../core/error-cause.js';
import { answersTls, closedWithoutAnswer, plainAnswered } from './tls-mismatch.js';

/**
 * Why an attempt to reach the server (to register, or to open a session) came to nothing usable, for
 * the retry lines to say what is true of the server rather than "unreachable" for every failure:
 * - `network`: no connection, or no answer on it (refused, timed out, no such host, reset);
 * - `tls`: a connection, but the TLS handshake failed; `plainHttp` when what came back was plain HTTP
 *   (an https:// URL for a server that speaks http);
 * - `speaksTls`: the reverse, an http:// URL for a server that speaks https only: it closed the plain
 *   request without an answer, and a TLS handshake with it succeeds;
 * - `answered`: an HTTP answer, but not a session or a registration (a proxy's 502 while the server
 *   behind it is down, a 503 while it restarts).
 */
export type AttemptFailure =
  | { readonly kind: 'network' }
  | { readonly kind: 'tls'; readonly plainHttp: boolean }
  | { readonly kind: 'speaksTls' }
  | { readonly kind: 'answered'; readonly status: number };

export const networkFailure: AttemptFailure = { kind: 'network' };

/** The failure of a request that got no HTTP answer: its TLS handshake's, or the network's. */
function requestFailure(error: unknown): AttemptFailure {
  if (plainAnswered(error)) return { kind: 'tls', plainHttp: true };
  return tlsHandshakeError(error) ? { kind: 'tls', plainHttp: false } : networkFailure;
}

/**
 * requestFailure, for a request to `url`, told apart once more: a connection to an http:// (or ws://)
 * URL that the server closed before it answered is a TLS server's, if a TLS handshake with it succeeds
 * (answersTls, at most 2 s). Asked only then: a refused connection, a timeout or a reset at an https://
 * URL stays a network failure without a probe, and a reset from a server that does not answer TLS too.
 */
export async function requestFailureAt(
  url: string,
  error: unknown,
  signal?: AbortSignal,
): Promise<AttemptFailure> {
  const failed = requestFailure(error);
  if (failed.kind !== 'network' || !/^(http|ws):/.test(url) || !closedWithoutAnswer(error)) return failed;
  return (await answersTls(url, signal === undefined ? {} : { signal })) ? { kind: 'speaksTls' } : failed;
}

/**
 * Of a round of attempts (one per transport), the one that says most about the server: an answer
 * shows it is reachable, and a failed handshake (or a successful one, for an http:// URL) that
 * something listens there. Of two answers a 5xx tells the outage: a proxy that forbids WebSocket
 * upgrades answers them 403 all along, and its 502 for long-poll is what says the server is down.
 */
export function mostTelling(failures: readonly AttemptFailure[]): AttemptFailure {
  return (
    failures.find((failure) => failure.kind === 'answered' && failure.status >= 500) ??
    failures.find((failure) => failure.kind === 'answered') ??
    failures.find((failure) => failure.kind === 'tls' || failure.kind === 'speaksTls') ??
    networkFailure
  );
}

/**
 * OpenSSL's errors: Node's `ERR_SSL_*` codes (fetch's), or `EPROTO` with OpenSSL's text (the https
 * module's and ws's). A certificate that fails verification is not one: the handshake got that far.
 */
function tlsHandshakeError(error: unknown): boolean {
  return causeWithCode(error, (code) => code.startsWith('ERR_SSL_') || code === 'EPROTO') !== undefined;
}
