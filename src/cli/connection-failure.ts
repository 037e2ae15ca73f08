import { messageOf } from '../core/error-message.js';
import { ValkyrieError } from '../core/errors.js';
import { certificateError, certificateFailure } from '../protocol/tls-certificate.js';
import { closedWithoutAnswer, plainServerLine, tlsServerLine } from '../protocol/tls-mismatch.js';
import type { RetryWait } from './retry-wait.js';

/**
 * What a fetch to the server at `origin` that got no answer throws, classified: a TLS certificate
 * that failed verification (VK_TLS_CERTIFICATE), a server that speaks the other scheme (named, with
 * the URL to try), fetch's own limit on the answer, else the network's reason, with what `wait` saw
 * of a restarting server (VK_SERVER_UNREACHABLE).
 */
export async function connectionFailureError(
  origin: string,
  error: unknown,
  wait: RetryWait,
): Promise<ValkyrieError> {
  const failure = certificateFailure(error);
  if (failure !== undefined) return certificateError(origin, failure, error);
  // The wrong scheme for the server: say which one it speaks rather than OpenSSL's raw text.
  const scheme =
    plainServerLine(origin, error) ?? (closedWithoutAnswer(error) ? await tlsServerLine(origin) : undefined);
  if (scheme !== undefined) return new ValkyrieError('VK_SERVER_UNREACHABLE', scheme, { cause: error });
  // fetch's own limit (undici's headersTimeout) on a request sent whole: the server was reached.
  if (causeCode(error) === 'UND_ERR_HEADERS_TIMEOUT')
    return new ValkyrieError(
      'VK_SERVER_UNREACHABLE',
      `the Valkyrie server at ${origin} took the request but gave no answer within 5 minutes (UND_ERR_HEADERS_TIMEOUT)`,
      { cause: error },
    );
  return new ValkyrieError(
    'VK_SERVER_UNREACHABLE',
    `cannot reach the Valkyrie server at ${origin}: ${networkReason(error)}${wait.gaveUpNote()}`,
    { cause: error },
  );
}

/** The code of the error under fetch's `fetch failed` (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, …). */
function causeCode(error: unknown): string | undefined {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
}

/** `connection refused (ECONNREFUSED)` rather than undici's `fetch failed`. */
function networkReason(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = causeCode(error);
    const friendly: Record<string, string> = {
      ECONNREFUSED: 'connection refused',
      ENOTFOUND: 'no such host',
      ECONNRESET: 'the connection was reset',
      ETIMEDOUT: 'the connection timed out',
      EHOSTUNREACH: 'no route to host',
    };
    const text = code ? friendly[code] : undefined;
    if (text && code) return `${text} (${code})`;
    // fetch tried nothing: the port is on its list of ports it never connects to (1, 25, 6000, …).
    if (cause.message === 'bad port')
      return 'fetch refuses to connect to that port (a blocked port); use another';
    return cause.message;
  }
  return messageOf(error);
}
