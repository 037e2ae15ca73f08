import { type ErrorCode, errorCatalog, errorCodeHeader, ValkyrieError } from '../core/errors.js';
import { isRecord } from '../core/is-record.js';
import { bodyGist } from '../protocol/handshake.js';
import type { FieldFlags } from './field-flags.js';

/**
 * An error answer of the API, `{code, message, path?}`. `code` is the server's when this client's
 * catalog knows it, else VK_SERVER_RESPONSE; `serverCode` keeps what the server sent ('' when the
 * answer had no such body, e.g. a proxy in between; for a bodiless 401 or 403, as a HEAD request
 * gets, the code the API gives that status: VK_UNAUTHORIZED, VK_FORBIDDEN).
 */
export class ApiRequestError extends ValkyrieError {
  constructor(
    readonly status: number,
    readonly serverCode: string,
    message: string,
    /** The whole error body, e.g. `diagnostics` of VK_INVALID_WORKFLOW. */
    readonly body: Readonly<Record<string, unknown>>,
  ) {
    // Most messages start with their path already ("body.name: …"): not said twice.
    const path = typeof body.path === 'string' && !message.includes(body.path) ? ` (at ${body.path})` : '';
    super(isKnownCode(serverCode) ? serverCode : 'VK_SERVER_RESPONSE', `${message}${path}`);
    this.name = 'ApiRequestError';
  }

  /**
   * This refusal told in the words of the command line when its field is one a flag filled: the user
   * typed `--name`, not `body.name`. Itself when the refusal names no field, or one not in `flags`.
   */
  namingFlags(flags: FieldFlags): ApiRequestError {
    const path = this.body.path;
    if (typeof path !== 'string' || !Object.hasOwn(flags, path)) return this;
    const flag = flags[path] ?? path;
    // The path leads the server's message ("body.name: …") or ends it (" (at body.name)").
    const message = this.message.replace(path, () => flag);
    return new ApiRequestError(this.status, this.serverCode, message, { ...this.body, path: flag });
  }
}

/** How throwUnlessOk tells a refusal in the words of the command that sent the request. */
export interface RefusalWording {
  /**
   * What a bodiless 403 (a HEAD request's) refused, which the route knows and the answer cannot say;
   * without it, the code's general description.
   */
  readonly forbiddenWhy?: string;
  /** A refused field that one of the command's flags filled is told as that flag (ApiRequestError.namingFlags). */
  readonly fieldFlags?: FieldFlags;
}

/** Resolves for a 2xx answer; otherwise reads the body and rejects with its ApiRequestError. */
export async function throwUnlessOk(
  response: Response,
  { forbiddenWhy, fieldFlags = {} }: RefusalWording = {},
): Promise<void> {
  if (response.ok) return;
  const text = await response.text().catch(() => '');
  const body = parseJson(text);
  if (isRecord(body) && typeof body.code === 'string' && typeof body.message === 'string')
    throw new ApiRequestError(response.status, body.code, `${body.code}: ${body.message}`, body).namingFlags(
      fieldFlags,
    );
  // A bodiless refusal (a HEAD request has none): the code the API gives that status, so the line
  // still names one, e.g. a read-only token refused the bundle check of `submit`.
  const refusal = refusalCodes[response.status] ?? knownCode(codeHeader(response));
  if (refusal !== undefined && text.trim() === '') {
    const why = (response.status === 403 ? forbiddenWhy : undefined) ?? errorCatalog[refusal];
    throw new ApiRequestError(response.status, refusal, `${refusal}: ${why}`, {});
  }
  // One line, as the runner's: a proxy's HTML page as it came was a dozen lines of markup.
  const snippet = text.trim() === '' ? '' : bodyGist(text);
  const status = response.statusText || 'error';
  throw new ApiRequestError(response.status, '', `${status}${snippet ? `: ${snippet}` : ''}`, {});
}

/** The code an error answer names in its header (server/app.ts), for one without a body (HEAD). */
export function codeHeader(response: Response): string | undefined {
  return response.headers.get(errorCodeHeader) ?? undefined;
}

function knownCode(code: string | undefined): ErrorCode | undefined {
  return code !== undefined && isKnownCode(code) ? code : undefined;
}

const refusalCodes: Readonly<Partial<Record<number, ErrorCode>>> = {
  401: 'VK_UNAUTHORIZED',
  403: 'VK_FORBIDDEN',
};

/** The parsed JSON, or undefined when the text is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isKnownCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCatalog, code);
}
