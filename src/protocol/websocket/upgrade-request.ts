import type { IncomingMessage } from 'node:http';
import type { Refusal } from '../handshake.js';

/** A refusal of an upgrade request that is no WebSocket handshake, as the acceptor answers it. */
export interface UpgradeRefusal extends Refusal {
  /** The request field that was wrong (`headers.sec-websocket-key`), as the API's errors name it. */
  readonly path?: string;
  /** Headers the answer carries besides the error's own. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** 16 random bytes in base64 (RFC 6455 §4.1), the pattern ws checks the key against. */
const keyPattern = /^[+/0-9A-Za-z]{22}==$/;

/** The versions ws speaks: 13 (RFC 6455) and 8 (the hybi-08 draft some old clients still send). */
const versions = ['13', '8'];

const received = (value: string | undefined) => (value === undefined ? 'none' : JSON.stringify(value));

/**
 * Why `request` is no WebSocket handshake ws would complete, or undefined: the checks ws's
 * WebSocketServer.handleUpgrade makes first (ws 8, websocket-server.js), in its order and with its
 * statuses, so that such a request is refused as every other refusal of the runner protocol, with a
 * JSON body and its code in X-Valkyrie-Error, not with ws's plain-text page. Made before the request
 * is authenticated, as ws makes them before verifyClient: a malformed handshake costs no store read.
 * What ws checks after these (a malformed Sec-WebSocket-Protocol) it reports through 'wsClientError'.
 */
export function malformedUpgrade(request: IncomingMessage): UpgradeRefusal | undefined {
  const invalid = (header: string, expected: string, headers?: Record<string, string>): UpgradeRefusal => {
    const value = request.headers[header];
    return {
      status: 400,
      code: 'VK_INVALID_REQUEST',
      message: `a WebSocket upgrade's ${header} header must be ${expected}; received ${received(typeof value === 'string' ? value : undefined)}`,
      path: `headers.${header}`,
      ...(headers === undefined ? {} : { headers }),
    };
  };
  if (request.method !== 'GET')
    return {
      status: 405,
      code: 'VK_METHOD',
      message: `a WebSocket upgrade is a GET request; received ${String(request.method)}`,
      headers: { allow: 'GET' },
    };
  if (request.headers.upgrade?.toLowerCase() !== 'websocket') return invalid('upgrade', '"websocket"');
  const key = request.headers['sec-websocket-key'];
  if (key === undefined || !keyPattern.test(key))
    return invalid('sec-websocket-key', '16 bytes in base64 (RFC 6455 §4.1)');
  const version = request.headers['sec-websocket-version'];
  // ws reads the version as a number: ` 13` and `013` pass its check, so they pass ours.
  if (version === undefined || !versions.includes(String(Number(version))))
    // RFC 6455 §4.4: a server refusing the version lists the versions it speaks.
    return invalid('sec-websocket-version', '13 or 8', { 'sec-websocket-version': versions.join(', ') });
  return undefined;
}
