/**
 * One end of a connection that carries protocol messages. Messages arrive in the order they were
 * sent. `send` after close is a no-op. `close` is idempotent and fires the other end's onClose.
 */
export interface Transport<Out, In> {
  send(message: Out): void;
  onMessage(listener: (message: In) => void): void;
  onClose(listener: (reason: string) => void): void;
  close(reason?: string): void;
}
