import type { RunnerMessage } from '../protocol/messages.js';
import type { RunnerSession } from './runner-registry.js';

/** Messages a session may send before its `register` are held, up to this many, then it is closed. */
const maxHeldBeforeRegister = 10_000;

/** Messages of sessions that have not registered yet, applied right after their `register`. */
export class HeldMessages {
  private readonly bySession = new Map<RunnerSession, RunnerMessage[]>();

  /** A message before `register` (a client that did not wait): applied once the session registers. */
  hold(session: RunnerSession, message: RunnerMessage): void {
    const held = this.bySession.get(session) ?? [];
    if (held.length >= maxHeldBeforeRegister) {
      session.transport.close(`VK_PROTOCOL: more than ${maxHeldBeforeRegister} messages before register`);
      return;
    }
    held.push(message);
    this.bySession.set(session, held);
  }

  /** The messages `session` sent before its `register`, in order; none is held any more. */
  take(session: RunnerSession): RunnerMessage[] {
    const held = this.bySession.get(session) ?? [];
    this.bySession.delete(session);
    return held;
  }

  /** The session closed: what it sent is dropped. */
  drop(session: RunnerSession): void {
    this.bySession.delete(session);
  }
}
