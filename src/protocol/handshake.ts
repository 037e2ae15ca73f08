import type { IncomingHttpHeaders } from 'node:http';
import { bearerChallenge } from '../core/errors.js';
import { visible } from '../core/visible-text.js';
import type { AttemptFailure } from './attempt-failure.js';
import type { ProtocolError } from './frame.js';
import { protocolVersion } from './messages.js';
import type { CertificateFailure } from './tls-certificate.js';

/**
 * What both transports check before a session exists: the protocol version the client speaks (a
 * header, so a mismatch is refused with a clear error before any frame is exchanged) and the
 * caller's own authentication hook. The hook sees only headers; token logic lives with the server.
 */
export const versionHeader = 'valkyrie-protocol-version';

/**
 * WebSocket only: a client that can read frames of several messages sends `Valkyrie-Frames: batch`
 * with the upgrade, and a server that can too answers with the same header; then (and only then) both
 * ends may send such frames. Either end without it keeps to one message per frame.
 */
export const framesHeader = 'valkyrie-frames';
export const batchFrames = 'batch';

export interface ConnectionRequest {
  readonly headers: IncomingHttpHeaders;
  readonly remoteAddress: string | undefined;
}

export type Authentication<Principal> =
  | { readonly kind: 'accepted'; readonly principal: Principal }
  | {
      readonly kind: 'rejected';
      /** 401/403 end the client's attempts; 503 (shutting down, a store that did not answer) makes it retry. */
      readonly status: 401 | 403 | 503;
      readonly code: string;
      readonly message: string;
    };

/**
 * Called once per connection (WebSocket upgrade, long-poll session open), and again when the
 * principal it accepted was revoked while it ran (ConnectionAdmission); may be slow. A hook that
 * throws is a bug: the connection is refused 500 VK_INTERNAL, and the error goes to the acceptor's logError.
 */
export type Authenticate<Principal> = (request: ConnectionRequest) => Promise<Authentication<Principal>>;

/** Where an acceptor tells a failure no client may see (an authentication hook that threw): the server's log. */
export type LogError = (error: unknown) => void;

/** An absent header means version 1, so plain tools (curl, a browser) can reach a v1 server. */
export function checkVersionHeader(headers: IncomingHttpHeaders): ProtocolError | undefined {
  const value = headers[versionHeader];
  if (value === undefined || value === String(protocolVersion)) return undefined;
  return {
    code: 'VK_PROTOCOL_VERSION',
    message: `client speaks protocol version ${JSON.stringify(value)}; this server speaks version ${protocolVersion}`,
  };
}

/** ConnectionAdmission's precheck for the runner protocol: a version this server does not speak is a 400. */
export function versionRefusal(request: { readonly headers: IncomingHttpHeaders }): Refusal | undefined {
  const error = checkVersionHeader(request.headers);
  return error === undefined ? undefined : { status: 400, ...error };
}

/** Why a connection is refused, as both transports answer it: an HTTP status and `{code, message}`. */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/**
 * Retry-After (seconds) on a 503 refusal: the control plane is shutting down, and a replica or its
 * restart takes the connection within seconds.
 */
export const unavailableRetryAfterSeconds = 5;

/**
 * The headers a refusal's status brings, over either transport: a 503's Retry-After, a 401's
 * WWW-Authenticate challenge.
 */
export function statusHeaders(status: number): Readonly<Record<string, string>> {
  if (status === 503) return { 'retry-after': String(unavailableRetryAfterSeconds) };
  if (status === 401) return { 'www-authenticate': bearerChallenge };
  return {};
}

/**
 * Every refusal is a JSON body `{code, message, path?}`, as the HTTP API's errors are; `path` names
 * the request field that was wrong (`headers.sec-websocket-key`).
 */
export function errorBody(code: string, message: string, path?: string): string {
  return JSON.stringify(path === undefined ? { code, message } : { code, message, path });
}

/**
 * Whether an answer refused the runner's credential, which retrying will not mend: a 401 or 403 of the
 * server's own. A proxy's (one that forbids WebSocket upgrades, or an auth gateway) says nothing of
 * the credential: the attempt is retried, over this transport or the other.
 */
export function refusesCredential(status: number, body: { readonly ours: boolean }): boolean {
  return (status === 401 || status === 403) && body.ours;
}

/**
 * Reads `{code, message}` from a refusal, tolerating bodies that are not ours (a proxy's page);
 * `ours` tells the two apart, as a proxy's 403 says nothing of the runner's credential.
 */
export function parseErrorBody(
  text: string,
  status: number,
): { code: string; message: string; ours: boolean } {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) {
      const { code, message } = value as Record<string, unknown>;
      // Some gateways answer {code, message} too; the server's codes are all VK_….
      if (typeof code === 'string' && typeof message === 'string')
        return { code, message, ours: /^VK_[A-Z_]+$/.test(code) };
    }
  } catch {
    // Not JSON: fall through to a description of the status.
  }
  return { code: `HTTP_${status}`, message: `HTTP ${status}: ${bodyGist(text)}`, ours: false };
}

/**
 * A body that is not ours, as one line: a proxy's or another server's HTML error page (nginx's 502
 * while the server is down) by its title. Its text as it came put a dozen lines of HTML into every
 * retry line of a runner, and its control characters reached the terminal.
 */
export function bodyGist(text: string): string {
  const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1];
  const html = title !== undefined || /^\s*<(!doctype|html)/i.test(text);
  const plain = (title ?? text.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
  const shown = visible(plain.length > 200 ? `${plain.slice(0, 200)}…` : plain);
  const page = 'an HTML page, not a Valkyrie API answer';
  if (html) return shown === '' ? page : `${shown} (${page})`;
  return shown === '' ? 'no body' : shown;
}

/**
 * What a client's connect attempt came to. Only `unreachable` is worth retrying as is; `untrusted`
 * (the server's TLS certificate failed verification) needs this machine's trust or the certificate
 * to change first.
 */
export type ConnectResult<T> =
  | { readonly kind: 'connected'; readonly transport: T }
  | { readonly kind: 'unreachable'; readonly reason: string; readonly failed: AttemptFailure }
  | { readonly kind: 'rejected'; readonly status: number; readonly code: string; readonly reason: string }
  | { readonly kind: 'untrusted'; readonly failure: CertificateFailure; readonly reason: string };
