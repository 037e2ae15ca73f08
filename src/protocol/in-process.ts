import type { ProtocolError } from './frame.js';
import type { Transport } from './transport.js';
import { protocolCloseInfo } from './transport-end.js';

/**
 * A pair of connected transports in one process (local mode). Delivery is asynchronous (a microtask
 * later, in order), as on a network, so neither side can depend on re-entrant calls.
 */
export function inProcessPair<A, B>(): [Transport<A, B>, Transport<B, A>] {
  const left = new InProcessEnd<A, B>();
  const right = new InProcessEnd<B, A>();
  left.peer = right;
  right.peer = left;
  return [left, right];
}

class InProcessEnd<Out, In> implements Transport<Out, In> {
  peer: InProcessEnd<In, Out> | undefined;
  private readonly messageListeners: ((message: In) => void)[] = [];
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private inbox: In[] = [];
  private scheduled = false;
  private closed = false;

  send(message: Out): void {
    if (this.closed) return;
    this.peer?.deliver(message);
  }

  onMessage(listener: (message: In) => void): void {
    this.messageListeners.push(listener);
  }

  onClose(listener: (reason: string) => void): void {
    this.closeListeners.push(listener);
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.closeListeners) listener(reason);
    this.peer?.close(reason);
  }

  /** In one process there is no close code: the reason carries it, as a network end's does. */
  reject(error: ProtocolError): void {
    this.close(protocolCloseInfo(error).reason);
  }

  /** Batches every message sent in one tick into one microtask, preserving order. */
  private deliver(message: In): void {
    if (this.closed) return;
    this.inbox.push(message);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      const batch = this.inbox;
      this.inbox = [];
      for (const item of batch) {
        for (const listener of this.messageListeners) listener(item);
      }
    });
  }
}
