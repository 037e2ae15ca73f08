import { isBlockedPort } from '../core/blocked-ports.js';
import { messageOf } from '../core/error-message.js';
import { type ErrorCode, errorCatalog, errorCodeHeader, ValkyrieError } from '../core/errors.js';
import { isRecord } from '../core/is-record.js';
import { formatDelay } from '../core/retry-delay.js';
import { tokenTextProblem } from '../core/token-text.js';
import { bodyGist } from '../protocol/handshake.js';
import { certificateError, certificateFailure } from '../protocol/tls-certificate.js';
import { closedWithoutAnswer, plainServerLine, tlsServerLine } from '../protocol/tls-mismatch.js';
import { UsageError } from './exit-codes.js';
import type { FieldFlags } from './field-flags.js';
import {
  connectionRefused,
  defaultRetryWait,
  errorCode,
  RetryWait,
  type RetryWaitPolicy,
} from './retry-wait.js';

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

export interface ApiFetchInit {
  /** A function makes the body anew for each attempt (a stream is read once): see `retryWhenAsked`. */
  readonly body?: RequestInit['body'] | (() => RequestInit['body']);
  readonly headers?: Readonly<Record<string, string>>;
  /** Required by fetch for a streamed request body. */
  readonly duplex?: 'half';
  readonly signal?: AbortSignal;
  /**
   * Default true: a `503 VK_SHUTTING_DOWN` (a server restarting) or `503 VK_SERVER_BUSY` (its parse
   * queue full) is asked again after its Retry-After, and so is a refused connection after a
   * restarting answer, within the RetryWaitPolicy (retry-wait.ts says why that is safe for every
   * request); a stream body given as such, not as a function, is not. False for a caller with its own
   * reconnecting (the run event stream).
   */
  readonly retryWhenAsked?: boolean;
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

/**
 * The one HTTP client of the CLI's client commands (`token`, `submit`): the token as a Bearer header,
 * JSON in and out, an unreachable server as VK_SERVER_UNREACHABLE (one that speaks the other scheme,
 * plain HTTP for an https:// URL or TLS for an http:// one, says so and names the URL to try), a server
 * whose TLS certificate fails verification as VK_TLS_CERTIFICATE, and error answers as ApiRequestError.
 */
export class ApiClient {
  readonly server: string;
  /** The 503 codes whose wait was told (tellWaiting). */
  private readonly told = new Set<string>();
  private toldUnanswered = false;

  constructor(
    server: string,
    private readonly token: string | undefined,
    private readonly retryWait: RetryWaitPolicy = defaultRetryWait,
  ) {
    this.server = server.replace(/\/+$/, '');
  }

  /** From flags, then the environment; a missing or malformed server URL is a usage error. */
  static fromFlags(flags: ApiClientFlags, env: NodeJS.ProcessEnv = process.env): ApiClient {
    const server = flags.server ?? env.VALKYRIE_SERVER;
    if (server === undefined || server === '')
      throw new UsageError(
        'no server: pass --server URL or set VALKYRIE_SERVER (e.g. http://127.0.0.1:7070)',
      );
    return new ApiClient(serverBaseUrl(server, serverSource(flags.server)), clientToken(flags, env));
  }

  /** Whether a token was given: a command that cannot do without one says so before any request. */
  get hasToken(): boolean {
    return this.token !== undefined;
  }

  get origin(): string {
    return new URL(this.server).origin;
  }

  /**
   * Sends one JSON request. Resolves with the parsed JSON body (undefined for an empty one); rejects
   * with an ApiRequestError for an error status, or VK_SERVER_UNREACHABLE when no answer came.
   */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    /** A refusal of one of these fields names the flag instead (ApiRequestError.namingFlags). */
    fieldFlags: FieldFlags = {},
  ): Promise<T> {
    const response = await this.fetch(
      method,
      path,
      body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } },
    );
    await throwUnlessOk(response, undefined, fieldFlags);
    const text = await response.text();
    return (text === '' ? undefined : parseJson(text)) as T;
  }

  /**
   * The raw response, for streams, binary bodies and statuses the caller reads itself. A server that
   * is restarting or busy is waited out (ApiFetchInit.retryWhenAsked); the answer after the last wait
   * is the caller's, as any other.
   */
  async fetch(method: string, path: string, init: ApiFetchInit = {}): Promise<Response> {
    const { body, retryWhenAsked, ...rest } = init;
    const resendable = retryWhenAsked !== false && (body === undefined || typeof body !== 'object');
    const wait = new RetryWait(this.retryWait);
    for (;;) {
      let response: Response;
      try {
        response = await this.send(method, path, {
          ...rest,
          body: typeof body === 'function' ? body() : body,
        });
      } catch (error) {
        const delay = resendable && connectionRefused(error) ? wait.afterRefused() : undefined;
        if (delay === undefined || init.signal?.aborted)
          throw await this.networkError(error, init.signal, wait);
        await this.retryWait.sleep(delay, init.signal);
        continue;
      }
      if (!resendable || response.status !== 503) return response;
      const text = await response.text().catch(() => '');
      const retryAfter = response.headers.get('retry-after');
      const code = errorCode(text) ?? codeHeader(response);
      const delay =
        code === 'VK_SHUTTING_DOWN'
          ? wait.afterShuttingDown(retryAfter)
          : code === 'VK_SERVER_BUSY'
            ? wait.afterBusy(retryAfter)
            : undefined;
      if (code === undefined || delay === undefined || init.signal?.aborted)
        return new Response(text, {
          status: 503,
          statusText: response.statusText,
          headers: response.headers,
        });
      this.tellWaiting(code, delay);
      await this.retryWait.sleep(delay, init.signal);
    }
  }

  /** Once per client and cause, however many of its requests wait. */
  private tellWaiting(code: string, delayMs: number): void {
    if (this.told.has(code)) return;
    this.told.add(code);
    const state = code === 'VK_SERVER_BUSY' ? 'busy' : 'shutting down or restarting';
    this.retryWait.notice(
      `valkyrie: the server at ${this.origin} is ${state} (503 ${code}); ` +
        `retrying in ${formatDelay(delayMs)}, for up to ${formatDelay(this.retryWait.maxTotalMs)}`,
    );
  }

  private async send(
    method: string,
    path: string,
    init: Omit<ApiFetchInit, 'body' | 'retryWhenAsked'> & { readonly body: RequestInit['body'] },
  ): Promise<Response> {
    const auth: Record<string, string> =
      this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
    // Not while a streamed body (a bundle) may still be uploading: the server cannot answer before.
    // fetch takes a stream only with duplex 'half', so that is what marks one.
    const quiet =
      init.duplex === 'half'
        ? undefined
        : setTimeout(() => this.tellUnanswered(), this.retryWait.unansweredNoticeMs);
    quiet?.unref();
    try {
      return await fetch(`${this.server}${path}`, { method, ...init, headers: { ...init.headers, ...auth } });
    } finally {
      clearTimeout(quiet);
    }
  }

  /** Once per client (RetryWaitPolicy.unansweredNoticeMs). */
  private tellUnanswered(): void {
    if (this.toldUnanswered) return;
    this.toldUnanswered = true;
    this.retryWait.notice(
      `valkyrie: the server at ${this.origin} has not answered for ${formatDelay(this.retryWait.unansweredNoticeMs)}; still waiting for it`,
    );
  }

  /** What a fetch that got no answer throws: the classified ValkyrieError, or the abort as it came. */
  private async networkError(
    error: unknown,
    signal: AbortSignal | undefined,
    wait: RetryWait,
  ): Promise<unknown> {
    if (signal?.aborted) return error;
    const failure = certificateFailure(error);
    if (failure !== undefined) return certificateError(this.origin, failure, error);
    // The wrong scheme for the server: say which one it speaks rather than OpenSSL's raw text.
    const scheme =
      plainServerLine(this.origin, error) ??
      (closedWithoutAnswer(error) ? await tlsServerLine(this.origin) : undefined);
    if (scheme !== undefined) return new ValkyrieError('VK_SERVER_UNREACHABLE', scheme, { cause: error });
    // fetch's own limit (undici's headersTimeout) on a request sent whole: the server was reached.
    if (causeCode(error) === 'UND_ERR_HEADERS_TIMEOUT')
      return new ValkyrieError(
        'VK_SERVER_UNREACHABLE',
        `the Valkyrie server at ${this.origin} took the request but gave no answer within 5 minutes (UND_ERR_HEADERS_TIMEOUT)`,
        { cause: error },
      );
    return new ValkyrieError(
      'VK_SERVER_UNREACHABLE',
      `cannot reach the Valkyrie server at ${this.origin}: ${networkReason(error)}${wait.gaveUpNote()}`,
      { cause: error },
    );
  }
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

/**
 * Resolves for a 2xx answer; otherwise reads the body and rejects with its ApiRequestError.
 * `forbiddenWhy` says what a bodiless 403 (a HEAD request's) refused, which the route knows and the
 * answer cannot say; without it, the code's general description. A refused field that one of the
 * command's flags filled is told as that flag (`fieldFlags`, ApiRequestError.namingFlags).
 */
export async function throwUnlessOk(
  response: Response,
  forbiddenWhy?: string,
  fieldFlags: FieldFlags = {},
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
function codeHeader(response: Response): string | undefined {
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
