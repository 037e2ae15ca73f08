import type { ProtocolError } from './frame.js';

/**
 * One end of a connection that carries protocol messages. Messages arrive in the order they were
 * sent. `send` after close is a no-op. `close` is idempotent and fires the other end's onClose.
 */
export interface Transport<Out, In> {
  send(message: Out): void;
  onMessage(listener: (message: In) => void): void;
  onClose(listener: (reason: string) => void): void;
  close(reason?: string): void;
  /**
   * Closes the connection because the peer broke the protocol, the way a frame that does not decode
   * closes it: a WebSocket with the code's close code (4000 for VK_PROTOCOL), a long-poll session
   * ended with the code (its next request answered 410 with it); the reason is `CODE: message`.
   * Idempotent, like close; a no-op once closed.
   */
  reject(error: ProtocolError): void;
  /**
   * Resolves once the work close() left running is done (a long-poll session delivers what was sent,
   * then is deleted), or could not be. Absent where close() leaves none. A process that exits once
   * its command returns awaits it, or that work would be cut off.
   */
  whenEnded?(): Promise<void>;
}
