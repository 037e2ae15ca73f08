import { connect } from 'node:tls';
import { causeWithCode } from '../core/error-cause.js';

/**
 * An `https://` URL whose server answers plain HTTP: OpenSSL reads the HTTP answer as a TLS record and
 * fails with `…error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/…`,
 * which says nothing to someone who typed the wrong scheme. Node gives these codes for it (the second
 * with older OpenSSL builds).
 */
const plainAnswerCodes = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

/** The error's (or a cause's) code, when it is one of an https:// URL answered in plain HTTP. */
function plainAnswerCode(error: unknown): string | undefined {
  return causeWithCode(error, (code) => plainAnswerCodes.has(code))?.code;
}

/** OpenSSL's words for a plain-HTTP answer, as the https module and ws report it (code EPROTO). */
const plainAnswerText = /wrong version number|packet length too long/;

/**
 * Whether `error`, from an https:// request, means the server answered plain HTTP: fetch's codes
 * (plainAnswerCodes), or the https module's and ws's EPROTO with OpenSSL's text.
 */
export function plainAnswered(error: unknown): boolean {
  if (plainAnswerCode(error) !== undefined) return true;
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return code === 'EPROTO' && error instanceof Error && plainAnswerText.test(error.message);
}

/**
 * One line when `error`, from a request to `origin` (`https://host:port`), means the server there does
 * not speak TLS; undefined otherwise.
 */
export function plainServerLine(origin: string, error: unknown): string | undefined {
  const code = plainAnswerCode(error);
  if (code === undefined || !origin.startsWith('https:')) return undefined;
  return `the server at ${origin} does not answer TLS (${code}): it looks like a plain-HTTP server; try ${origin.replace(/^https:/, 'http:')}`;
}

/**
 * A TLS server at `http://host:port` closes the connection on the plain request it cannot read, which
 * fetch reports as `other side closed`. When `origin` is http:// and it answers a TLS handshake
 * (answersTls), the one line that says so; else undefined. Asked only after a request failed that way.
 */
export async function tlsServerLine(origin: string): Promise<string | undefined> {
  if (!origin.startsWith('http:') || !(await answersTls(origin))) return undefined;
  return `the server at ${origin} closed the connection: it ${answersTlsHint(origin)}`;
}

/**
 * What the client commands' line (tlsServerLine) and the runner's retry line say of an http:// `url`
 * whose server answers TLS: the scheme it speaks, and the URL to give instead.
 */
export function answersTlsHint(url: string): string {
  return `answers TLS, not plain HTTP; try ${url.replace(/^http:/, 'https:')}`;
}

/**
 * Whether the server at `url` (http:// or ws://, its host and port) completes a TLS handshake within
 * `timeoutMs` (default 2 s), certificate not checked: this only asks what it speaks. False at once when
 * `signal` is aborted: a runner told to stop does not wait for the answer.
 */
export async function answersTls(
  url: string,
  { timeoutMs = 2_000, signal }: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
): Promise<boolean> {
  const { hostname, port } = new URL(url);
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host, port: Number(port || 80), rejectUnauthorized: false });
    const done = (result: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', notTls);
      socket.destroy();
      resolve(result);
    };
    const notTls = () => done(false);
    const timer = setTimeout(notTls, timeoutMs);
    signal?.addEventListener('abort', notTls);
    if (signal?.aborted) notTls();
    socket.once('secureConnect', () => done(true));
    socket.once('error', notTls);
    socket.once('close', notTls);
  });
}

/**
 * A connection the server closed before it answered: fetch's `other side closed` (undici's
 * `UND_ERR_SOCKET`), node:http's and ws's `socket hang up` or a reset (`ECONNRESET`). What a TLS server
 * does with a plain-HTTP request, and what many other failures do too: answersTls tells them apart.
 */
export function closedWithoutAnswer(error: unknown): boolean {
  return causeWithCode(error, (code) => code === 'UND_ERR_SOCKET' || code === 'ECONNRESET') !== undefined;
}
