import type { FastifyReply } from 'fastify';

/** How often an idle stream sends a comment, so proxies do not cut it. */
const keepAliveMs = 15_000;

export interface EventStream {
  /** `id`: the event's id, which the client sends back as Last-Event-ID when it reconnects. */
  send(event: string, data: unknown, id?: string): void;
  /**
   * Resolves once what was sent has left the response's buffer (at once unless the client is behind),
   * so a sender of many events holds few: true, or false when the stream ended meanwhile.
   */
  drained(): Promise<boolean>;
  /** Idempotent. */
  end(): void;
  /**
   * Ends the stream without the response's last chunk: the client's read fails, as when the connection
   * drops, where end() would look like a stream that ended on purpose. For a failure midway. Idempotent.
   */
  abort(): void;
  /** Called once when the stream ends, whoever ended it (this side, the client, shutdown). */
  onEnd(listener: () => void): void;
}

/**
 * Takes over the reply and answers with Server-Sent Events. Open streams are kept in `open` so
 * shutdown can end them: a stream that never ends would hold the HTTP server's close forever.
 */
export function openEventStream(reply: FastifyReply, open: Set<EventStream>): EventStream {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(': valkyrie\n\n');
  const listeners: (() => void)[] = [];
  let ended = false;
  const timer = setInterval(() => raw.write(': keep-alive\n\n'), keepAliveMs);
  timer.unref();
  const finish = () => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    open.delete(stream);
    for (const listener of listeners) listener();
  };
  const stream: EventStream = {
    send(event, data, id) {
      if (ended) return;
      const idField = id === undefined ? '' : `id: ${id}\n`;
      raw.write(`${idField}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    drained() {
      if (ended) return Promise.resolve(false);
      if (!raw.writableNeedDrain) return Promise.resolve(true);
      return new Promise((resolve) => {
        const settle = () => {
          raw.off('drain', settle);
          raw.off('close', settle);
          resolve(!ended);
        };
        raw.on('drain', settle);
        raw.on('close', settle);
      });
    },
    end() {
      if (ended) return;
      finish();
      raw.end();
    },
    abort() {
      if (ended) return;
      finish();
      raw.destroy();
    },
    onEnd(listener) {
      if (ended) listener();
      else listeners.push(listener);
    },
  };
  open.add(stream);
  raw.on('close', finish);
  return stream;
}
