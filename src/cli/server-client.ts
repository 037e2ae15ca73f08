import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { type ErrorCode, errorCatalog, ValkyrieError } from '../core/errors.js';
import type { RunEvent } from '../engine/events.js';
import { checkRunEvent } from './run-event-check.js';
import { readServerSentEvents } from './sse-reader.js';

/** A run as the server shows it (`RunView` of the HTTP API); fields this client reads are checked. */
export interface ApiRun {
  readonly id: string;
  readonly number: number;
  readonly workflowName: string;
  readonly status: string;
}

/** `POST /api/v1/runs`. */
export interface CreateRunBody {
  readonly workflow: string;
  readonly path?: string;
  readonly bundle?: string;
  readonly vars?: Readonly<Record<string, string>>;
  readonly secrets?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly priority?: string;
}

/**
 * A problem the server reported as `{code, message, path?}` (`serverCode` is '' when the answer had no
 * such body); `code` is the server's when this client's catalog knows it.
 */
export class ServerApiError extends ValkyrieError {
  constructor(
    readonly status: number,
    readonly serverCode: string,
    readonly serverMessage: string,
    readonly body: Readonly<Record<string, unknown>>,
  ) {
    const path = typeof body.path === 'string' ? ` (at ${body.path})` : '';
    const code = serverCode === '' ? '' : `${serverCode}: `;
    super(knownCode(serverCode) ?? 'VK_SERVER_RESPONSE', `${code}${serverMessage}${path}`);
  }
}

/**
 * The calls `valkyrie submit` makes to a Valkyrie server: fetch with the token as a Bearer header.
 * A server that cannot be reached is VK_SERVER_UNREACHABLE; an error answer is a ServerApiError.
 */
export class ServerClient {
  private readonly base: URL;

  constructor(
    serverUrl: string,
    private readonly token: string,
  ) {
    this.base = new URL(serverUrl.endsWith('/') ? serverUrl : `${serverUrl}/`);
  }

  get origin(): string {
    return this.base.origin;
  }

  async hasBundle(sha256: string): Promise<boolean> {
    const response = await this.request('HEAD', `api/v1/bundles/${sha256}`);
    if (response.status === 404) return false;
    await this.expectOk(response);
    return true;
  }

  /** Streams the file; `stored` when the server kept it now, `present` when it already had it. */
  async uploadBundle(sha256: string, file: string, bytes: number): Promise<'stored' | 'present'> {
    const body = Readable.toWeb(createReadStream(file));
    const response = await this.request('PUT', `api/v1/bundles/${sha256}`, {
      body: body as ReadableStream<Uint8Array>,
      duplex: 'half',
      headers: { 'content-type': 'application/gzip', 'content-length': String(bytes) },
    });
    await this.expectOk(response);
    return response.status === 201 ? 'stored' : 'present';
  }

  /** `created` is false when the idempotency key matched a run submitted before. */
  async createRun(body: CreateRunBody, idempotencyKey?: string): Promise<{ run: ApiRun; created: boolean }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    const response = await this.request('POST', 'api/v1/runs', { body: JSON.stringify(body), headers });
    const json = await this.expectJson(response);
    return { run: readRun(json), created: response.status === 201 };
  }

  async cancelRun(runId: string): Promise<ApiRun> {
    const response = await this.request('POST', `api/v1/runs/${encodeURIComponent(runId)}/cancel`);
    return readRun(await this.expectJson(response));
  }

  /**
   * The run's events from its start, then live, until `run.completed` (or the stream ends, or
   * `signal` aborts). Events of kinds this client does not know are skipped.
   */
  async *runEvents(runId: string, signal?: AbortSignal): AsyncGenerator<RunEvent> {
    const response = await this.request('GET', `api/v1/runs/${encodeURIComponent(runId)}/events`, {
      headers: { accept: 'text/event-stream' },
      signal,
    });
    await this.expectOk(response);
    if (response.body === null) return;
    const chunks = response.body as unknown as AsyncIterable<Uint8Array>;
    for await (const message of readServerSentEvents(chunks)) {
      if (message.event !== 'run' && message.event !== 'message') continue;
      const checked = checkRunEvent(parseJson(message.data));
      if (checked.kind === 'unknown') continue;
      if (checked.kind === 'invalid')
        throw new ValkyrieError(
          'VK_SERVER_RESPONSE',
          `the server sent an event this client cannot read: ${checked.reason}`,
        );
      yield checked.event;
      if (checked.event.type === 'run.completed') return;
    }
  }

  private async request(
    method: string,
    path: string,
    init: {
      body?: RequestInit['body'];
      headers?: Record<string, string>;
      duplex?: 'half';
      signal?: AbortSignal;
    } = {},
  ): Promise<Response> {
    const url = new URL(path, this.base);
    try {
      return await fetch(url, {
        method,
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${this.token}` },
      });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw new ValkyrieError(
        'VK_SERVER_UNREACHABLE',
        `cannot reach the Valkyrie server at ${this.base.origin}: ${networkReason(error)}`,
        { cause: error },
      );
    }
  }

  private async expectJson(response: Response): Promise<unknown> {
    await this.expectOk(response);
    const text = await response.text();
    const json = parseJson(text);
    if (json === undefined)
      throw new ValkyrieError('VK_SERVER_RESPONSE', `the server answered ${response.status} without JSON`);
    return json;
  }

  private async expectOk(response: Response): Promise<void> {
    if (response.ok) return;
    const text = await response.text().catch(() => '');
    const body = parseJson(text);
    if (isRecord(body) && typeof body.code === 'string' && typeof body.message === 'string')
      throw new ServerApiError(response.status, body.code, body.message, body);
    // No error body (a HEAD request, a proxy in between): the status says what there is to say.
    const snippet = text.trim().slice(0, 200);
    const status = response.statusText || 'error';
    throw new ServerApiError(response.status, '', `${status}${snippet ? `: ${snippet}` : ''}`, {});
  }
}

function readRun(json: unknown): ApiRun {
  const run = isRecord(json) ? json.run : undefined;
  if (
    isRecord(run) &&
    typeof run.id === 'string' &&
    typeof run.number === 'number' &&
    typeof run.workflowName === 'string' &&
    typeof run.status === 'string'
  )
    return { id: run.id, number: run.number, workflowName: run.workflowName, status: run.status };
  throw new ValkyrieError(
    'VK_SERVER_RESPONSE',
    'the server answered without a run {id, number, workflowName, status}',
  );
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function knownCode(code: string): ErrorCode | undefined {
  return Object.hasOwn(errorCatalog, code) ? (code as ErrorCode) : undefined;
}

/** `connection refused (ECONNREFUSED)` rather than undici's `fetch failed`. */
function networkReason(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    const friendly: Record<string, string> = {
      ECONNREFUSED: 'connection refused',
      ENOTFOUND: 'no such host',
      ECONNRESET: 'the connection was reset',
      ETIMEDOUT: 'the connection timed out',
      EHOSTUNREACH: 'no route to host',
    };
    const text = code ? friendly[code] : undefined;
    return text && code ? `${text} (${code})` : cause.message;
  }
  return error instanceof Error ? error.message : String(error);
}
