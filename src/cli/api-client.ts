import { type ErrorCode, errorCatalog, ValkyrieError } from '../core/errors.js';
import { UsageError } from './exit-codes.js';

/** Where a client command finds the server: `--server`/`--token`, else VALKYRIE_SERVER/VALKYRIE_TOKEN. */
export interface ApiClientFlags {
  readonly server?: string;
  readonly token?: string;
}

/** An error answer of the API; `code` is the server's when Valkyrie knows it, else VK_API. */
export class ApiRequestError extends ValkyrieError {
  constructor(
    readonly status: number,
    /** The `code` the server sent, even one this client does not know. */
    readonly serverCode: string,
    message: string,
    /** The whole error body, e.g. `diagnostics` of VK_WORKFLOW_INVALID. */
    readonly body: Readonly<Record<string, unknown>>,
  ) {
    super(isKnownCode(serverCode) ? serverCode : 'VK_API', message);
    this.name = 'ApiRequestError';
  }
}

/**
 * A small client of the HTTP API for the CLI's client commands: JSON in, JSON out, errors as
 * ValkyrieErrors that carry the server's code and message.
 */
export class ApiClient {
  readonly server: string;

  constructor(
    server: string,
    private readonly token: string | undefined,
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
    if (!/^https?:\/\/[^/]/.test(server))
      throw new UsageError(
        `--server: expected an http:// or https:// URL, received ${JSON.stringify(server)}`,
      );
    const token = flags.token ?? env.VALKYRIE_TOKEN;
    return new ApiClient(server, token === '' ? undefined : token);
  }

  /**
   * Sends one request. Resolves with the parsed JSON body (undefined for an empty one); rejects with an
   * ApiRequestError for an error status, or VK_SERVER_UNREACHABLE when no answer came.
   */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetch(method, path, body);
    const text = await response.text();
    const parsed = parseJson(text);
    if (!response.ok) throw errorOf(response.status, parsed, text);
    return parsed as T;
  }

  /** The raw response, for streams and binary bodies; errors are the caller's to read. */
  async fetch(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const init: RequestInit = {
      method,
      headers: {
        ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    };
    try {
      return await fetch(`${this.server}${path}`, init);
    } catch (error) {
      const cause =
        error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
      throw new ValkyrieError('VK_SERVER_UNREACHABLE', `cannot reach ${this.server}: ${cause}`, {
        cause: error,
      });
    }
  }
}

/** The API's `{code, message}` body as an error; a body that is not ours is described by its status. */
export function errorOf(status: number, parsed: unknown, text: string): ApiRequestError {
  if (typeof parsed === 'object' && parsed !== null) {
    const body = parsed as Record<string, unknown>;
    if (typeof body.code === 'string' && typeof body.message === 'string')
      return new ApiRequestError(status, body.code, body.message, body);
  }
  return new ApiRequestError(
    status,
    `HTTP_${status}`,
    `the server answered ${status}: ${text.slice(0, 200)}`,
    {},
  );
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isKnownCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCatalog, code);
}
