import { errorCodeHeader } from '../../src/core/errors.js';
import { type ConnectRefusal, upgradeRefusal } from '../protocol/upgrade-refusal.js';

/** What a runner's WebSocket upgrade to the server at `serverUrl` with `token` is answered, when refused. */
export function runnerUpgradeRefusal(serverUrl: string, token: string): Promise<ConnectRefusal> {
  return upgradeRefusal(`${serverUrl.replace(/^http/, 'ws')}/api/v1/runner/ws`, {
    authorization: `Bearer ${token}`,
  });
}

/** What a runner's long-poll session open at the server at `serverUrl` with `token` is answered. */
export async function sessionOpenRefusal(serverUrl: string, token: string): Promise<ConnectRefusal> {
  const response = await fetch(`${serverUrl}/api/v1/runner/poll/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after') ?? undefined,
    header: response.headers.get(errorCodeHeader) ?? undefined,
    body: (await response.json()) as ConnectRefusal['body'],
  };
}
