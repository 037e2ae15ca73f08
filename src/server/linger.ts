import type { IncomingMessage } from 'node:http';

/** How long the rest of a refused request's body is still read, and dropped, after the answer. */
export const lingerMs = 10_000;

/**
 * Once the answer to `request` has gone out with `Connection: close`, keeps reading and dropping the
 * rest of its body before the connection closes (for at most lingerMs), as nginx's lingering close
 * does. Closed at once while the client still sends, the connection has bytes nobody read, so the
 * kernel resets it, and the reset drops the answer the client has not read yet: a body over the
 * limit got a write EPIPE (`valkyrie submit`: "cannot reach the Valkyrie server") instead of its 413.
 * A request already read whole needs none of this.
 */
export function lingerOnClose(request: IncomingMessage): void {
  if (request.complete) return;
  const socket = request.socket;
  // Node's HTTP server calls destroySoon() once the answer with Connection: close has finished.
  socket.destroySoon = () => {
    if (socket.writable) socket.end();
    let bodyDone = request.complete;
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    const destroyWhenDone = () => {
      // Both the answer flushed and nothing left unread: the close is a FIN, never a reset.
      if (bodyDone && socket.writableFinished) socket.destroy();
    };
    request.once('end', () => {
      bodyDone = true;
      destroyWhenDone();
    });
    socket.once('finish', destroyWhenDone);
    socket.once('close', () => clearTimeout(timer));
    destroyWhenDone();
  };
}
