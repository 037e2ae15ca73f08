import { formatDelay } from '../core/retry-delay.js';
import { codeHeader, parseJson, throwUnlessOk } from './api-error-answer.js';
import { type ApiClientFlags, clientToken, serverBaseUrl, serverSource } from './client-flags.js';
import { connectionFailureError } from './connection-failure.js';
import { UsageError } from './exit-codes.js';
import type { FieldFlags } from './field-flags.js';
import {
  connectionRefused,
  defaultRetryWait,
  errorCode,
  RetryWait,
  type RetryWaitPolicy,
} from './retry-wait.js';

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
   * restarting answer or from a server that answered an earlier call, within the RetryWaitPolicy
   * (retry-wait.ts says why that is safe for every request); a stream body given as such, not as a
   * function, is not. False for a caller with its own reconnecting (the run event stream).
   */
  readonly retryWhenAsked?: boolean;
}

/**
 * The one HTTP client of the CLI's client commands (`token`, `submit`): the token as a Bearer header,
 * JSON in and out, an unreachable server as VK_SERVER_UNREACHABLE (one that speaks the other scheme,
 * plain HTTP for an https:// URL or TLS for an http:// one, says so and names the URL to try), a server
 * whose TLS certificate fails verification as VK_TLS_CERTIFICATE (connection-failure.ts), and error answers
 * as ApiRequestError (api-error-answer.ts).
 */
export class ApiClient {
  readonly server: string;
  /** The 503 codes whose wait was told (tellWaiting), and `refused` for a server gone away (tellRefused). */
  private readonly told = new Set<string>();
  private toldUnanswered = false;
  /** The server answered a call of this client: a refused connection after that is a restart (RetryWait). */
  private answered = false;

  constructor(
    server: string,
    private readonly token: string | undefined,
    private readonly retryWait: RetryWaitPolicy = defaultRetryWait,
  ) {
    this.server = server.replace(/\/+$/, '');
  }

  /**
   * From flags, then the environment; a missing or malformed server URL is a usage error.
   * `retryWait`: a command that draws a progress line gives one whose notice wipes it first.
   */
  static fromFlags(
    flags: ApiClientFlags,
    env: NodeJS.ProcessEnv = process.env,
    retryWait: RetryWaitPolicy = defaultRetryWait,
  ): ApiClient {
    const server = flags.server ?? env.VALKYRIE_SERVER;
    if (server === undefined || server === '')
      throw new UsageError(
        'no server: pass --server URL or set VALKYRIE_SERVER (e.g. http://127.0.0.1:7070)',
      );
    return new ApiClient(
      serverBaseUrl(server, serverSource(flags.server)),
      clientToken(flags, env),
      retryWait,
    );
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
    await throwUnlessOk(response, { fieldFlags });
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
    const wait = new RetryWait(this.retryWait, this.answered);
    for (;;) {
      let response: Response;
      try {
        response = await this.send(method, path, {
          ...rest,
          body: typeof body === 'function' ? body() : body,
        });
      } catch (error) {
        const delay = resendable && connectionRefused(error) ? wait.afterRefused() : undefined;
        // An abort is the caller's own, and goes back to it as it came.
        if (delay === undefined || init.signal?.aborted)
          throw init.signal?.aborted ? error : await connectionFailureError(this.origin, error, wait);
        if (wait.waitsForServerGone()) this.tellRefused(delay);
        await this.retryWait.sleep(delay, init.signal);
        continue;
      }
      this.answered = true;
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

  /** Once per client: a server that answered before refuses connections, and is waited for. */
  private tellRefused(delayMs: number): void {
    if (this.told.has('refused')) return;
    this.told.add('refused');
    this.retryWait.notice(
      `valkyrie: the server at ${this.origin} refused the connection after it had answered this command (restarting?); ` +
        `retrying every ${formatDelay(delayMs)}, for up to ${formatDelay(this.retryWait.maxTotalMs)}`,
    );
  }

  /** Once per client (RetryWaitPolicy.unansweredNoticeMs). */
  private tellUnanswered(): void {
    if (this.toldUnanswered) return;
    this.toldUnanswered = true;
    this.retryWait.notice(
      `valkyrie: the server at ${this.origin} has not answered for ${formatDelay(this.retryWait.unansweredNoticeMs)}; still waiting for it`,
    );
  }
}
