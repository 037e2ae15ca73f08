import { runnerDecoder } from '../../src/protocol/frame.js';
import type {
  CompletionRef,
  ControlMessage,
  ResumedLease,
  RunnerMessage,
} from '../../src/protocol/messages.js';
import type { CloseInfo } from '../../src/protocol/transport-end.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';

/** As many messages about jobs never held as a runner may send in 10 minutes before it is closed (lease-reports.ts). */
export const closeAfter = 1_000;

/** The runner id of a credential (`vkt.<id>.<secret>`), as the server names the runner. */
export function runnerIdOf(credentialText: string): string {
  return credentialText.split('.')[1] ?? 'no id';
}

/**
 * A session over the real WebSocket endpoint, registered (resuming `resume`), that keeps the errors it
 * is sent, and with `completionsStored` asks for and keeps the completions acknowledged to it.
 */
export async function openSession(
  serverUrl: string,
  credentialText: string,
  resume?: ResumedLease[],
  { completionsStored = false } = {},
) {
  const connected = await connectWebSocket<RunnerMessage, ControlMessage>({
    url: `${serverUrl.replace(/^http/, 'ws')}/api/v1/runner/ws`,
    decoder: runnerDecoder,
    headers: { authorization: `Bearer ${credentialText}` },
  });
  if (connected.kind !== 'connected') throw new Error(`could not connect: ${connected.reason}`);
  const transport = connected.transport;
  const refused: ControlMessage[] = [];
  const stored: CompletionRef[] = [];
  transport.onMessage((message) => {
    if (message.type === 'error') refused.push(message);
    if (message.type === 'completions.stored') stored.push(...message.jobs);
  });
  const closed = new Promise<CloseInfo>((resolve) => transport.onCloseInfo(resolve));
  const runner = { name: 'returning', labels: ['elsewhere'], capacity: 8 };
  transport.send({
    type: 'register',
    version: 1,
    runner,
    ...(resume === undefined ? {} : { resume }),
    ...(completionsStored ? { completionsStored } : {}),
  });
  return { transport, refused, stored, closed };
}

/** Polls `condition` every 10 ms for 5 s. */
export async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
}
