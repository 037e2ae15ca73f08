import { ValkyrieError } from '../core/errors.js';
import { isRecord } from '../core/is-record.js';
import { isKnownCode, parseJson } from './api-error-answer.js';

/**
 * The server ended an event stream on purpose with `event: error` (`data:` `{code, message}`, as an
 * API error's body): final, not a drop to reconnect across. VK_UNAUTHORIZED when the token it was
 * opened with was revoked or expired: a new request with it would be refused (401) anyway. `code` is
 * the server's when this client's catalog knows it, else VK_SERVER_RESPONSE; `serverCode` keeps what
 * it sent ('' when the data was not `{code, message}`).
 */
export class StreamEndedError extends ValkyrieError {
  constructor(
    readonly serverCode: string,
    /** What ended, e.g. `the event stream of run 12`. */
    what: string,
    reason: string,
  ) {
    super(
      isKnownCode(serverCode) ? serverCode : 'VK_SERVER_RESPONSE',
      `the server ended ${what}: ${reason}${serverCode === '' ? '' : ` (${serverCode})`}`,
    );
    this.name = 'StreamEndedError';
  }

  /** The token was refused midway: the command exits as for a 401 or 403 answer. */
  get refusedToken(): boolean {
    return this.serverCode === 'VK_UNAUTHORIZED' || this.serverCode === 'VK_FORBIDDEN';
  }
}

/** The error an `event: error` with `data` says, for the stream `what`. */
export function streamEndedError(data: string, what: string): StreamEndedError {
  const body = parseJson(data);
  if (isRecord(body) && typeof body.code === 'string' && typeof body.message === 'string')
    return new StreamEndedError(body.code, what, body.message);
  return new StreamEndedError(
    '',
    what,
    `an error it did not describe (${JSON.stringify(data.slice(0, 200))})`,
  );
}
