import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { errorCodeHeader } from '../../src/core/errors.js';

/** How a server refused a connection: status, Retry-After, X-Valkyrie-Error and the JSON body. */
export interface ConnectRefusal {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly header: string | undefined;
  readonly body: { readonly code?: unknown; readonly message?: unknown };
}

/** What a WebSocket upgrade to `wsUrl` with `headers` is answered, when it is refused. */
export async function upgradeRefusal(
  wsUrl: string,
  headers: Record<string, string>,
): Promise<ConnectRefusal> {
  const socket = new WebSocket(wsUrl, { headers });
  socket.on('error', () => undefined);
  const [, response] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
  let text = '';
  for await (const chunk of response) text += String(chunk);
  socket.terminate();
  const header = response.headers[errorCodeHeader];
  return {
    status: response.statusCode ?? 0,
    retryAfter: response.headers['retry-after'],
    header: typeof header === 'string' ? header : undefined,
    body: JSON.parse(text) as ConnectRefusal['body'],
  };
}
