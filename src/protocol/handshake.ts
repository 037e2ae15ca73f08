import type { IncomingHttpHeaders } from 'node:http';
import type { ProtocolError } from './frame.js';
import { protocolVersion } from './messages.js';

/**
 * What both transports check before a session exists: the protocol version the client speaks (a
 * header, so a mismatch is refused with a clear error before any frame is exchanged) and the
 * caller's own authentication hook. The hook sees only headers; token logic lives with the server.
 */
export const versionHeader = 'valkyrie-protocol-version';

export interface ConnectionRequest {
  readonly headers: IncomingHttpHeaders;
  readonly remoteAddress: string | undefined;
}

export type Authentication<Principal> =
  | { readonly kind: 'accepted'; readonly principal: Principal }
  | {
      readonly kind: 'rejected';
      /** 401/403 end the client's attempts; 503 (shutting down) makes it retry. */
      readonly status: 401 | 403 | 503;
      readonly code: string;
      readonly message: string;
    };

/** Called once per connection (WebSocket upgrade, long-poll session open); may be slow. */
export type Authenticate<Principal> = (request: ConnectionRequest) => Promise<Authentication<Principal>>;

/** An absent header means version 1, so plain tools (curl, a browser) can reach a v1 server. */
export function checkVersionHeader(headers: IncomingHttpHeaders): ProtocolError | undefined {
  const value = headers[versionHeader];
  if (value === undefined || value === String(protocolVersion)) return undefined;
  return {
    code: 'VK_PROTOCOL_VERSION',
    message: `client speaks protocol version ${JSON.stringify(value)}; this server speaks version ${protocolVersion}`,
  };
}

/** Every refusal is a JSON body `{code, message}`, as the HTTP API's errors are. */
export function errorBody(code: string, message: string): string {
  return JSON.stringify({ code, message });
}

/** Reads `{code, message}` from a refusal, tolerating bodies that are not ours (a proxy's page). */
export function parseErrorBody(text: string, status: number): { code: string; message: string } {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null) {
      const { code, message } = value as Record<string, unknown>;
      if (typeof code === 'string' && typeof message === 'string') return { code, message };
    }
  } catch {
    // Not JSON: fall through to a description of the status.
  }
  return { code: `HTTP_${status}`, message: `HTTP ${status}: ${text.slice(0, 200)}` };
}

/** What a client's connect attempt came to. Only `unreachable` is worth retrying as is. */
export type ConnectResult<T> =
  | { readonly kind: 'connected'; readonly transport: T }
  | { readonly kind: 'unreachable'; readonly reason: string }
  | { readonly kind: 'rejected'; readonly status: number; readonly code: string; readonly reason: string };
