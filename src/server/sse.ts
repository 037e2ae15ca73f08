import type { FastifyReply } from 'fastify';

/** How often an idle stream sends a comment, so proxies do not cut it. */
const keepAliveMs = 15_000;
/**
 * How much a stream may have waiting for a slow client before its sender counts it behind
 * (EventStream.behind): well above one write's worth, so a client that keeps up is never counted so
 * while a burst of events is on its way out.
 */
const behindBytes = 1024 * 1024;
/** setTimeout's longest delay; a longer one would fire at once. */
const maxTimerMs = 2 ** 31 - 1;

/** The API token a stream was opened with: the stream lasts no longer than the token does. */
export interface StreamCredential {
  readonly id: string;
  /** When the token expires (ms since the epoch): the stream ends then. */
  readonly expiresAt?: number;
  /** The clock `expiresAt` is read on. */
  now(): number;
}

export interface EventStream {
  /** The id of the API token the stream was opened with, if any (credential-revocations.ts). */
  readonly credentialId: string | undefined;
  /** `id`: the event's id, which the client sends back as Last-Event-ID when it reconnects. */
  send(event: string, data: unknown, id?: string): void;
  /**
   * Resolves once what was sent has left the response's buffer (at once unless the client is behind),
   * so a sender of many events holds few: true, or false when the stream ended meanwhile.
   */
  drained(): Promise<boolean>;
  /** Whether more than a megabyte sent waits for the client: a sender should stop and wait (drained). */
  behind(): boolean;
  /** Idempotent. */
  end(): void;
  /**
   * Sends `event: error` (data: `{code, message}`, as an API error's body) and ends the stream: for a
   * stream that may not go on, such as one whose token was revoked or expired. Idempotent.
   */
  fail(code: string, message: string): void;
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
 * shutdown can end them (a stream that never ends would hold the HTTP server's close forever), and
 * so a revocation can end those of its token; one of a `credential` that expires fails then.
 */
export function openEventStream(
  reply: FastifyReply,
  open: Set<EventStream>,
  credential?: StreamCredential,
): EventStream {
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
  let expiry: NodeJS.Timeout | undefined;
  const finish = () => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    clearTimeout(expiry);
    open.delete(stream);
    for (const listener of listeners) listener();
  };
  const stream: EventStream = {
    credentialId: credential?.id,
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
    behind() {
      return raw.writableLength > behindBytes;
    },
    end() {
      if (ended) return;
      finish();
      raw.end();
    },
    fail(code, message) {
      stream.send('error', { code, message });
      stream.end();
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
  // A client gone while the route was getting ready (its token checked again, the run read): `close`
  // came before it was listened for, and the stream would stay open until the run or job ended.
  if (raw.closed) {
    finish();
    return stream;
  }
  // A HEAD answer has no body, and Node sends its headers only once it ends: kept open, the stream
  // would leave the client waiting for them until the run or job ended.
  if (raw.req?.method === 'HEAD') {
    stream.end();
    return stream;
  }
  const expiresAt = credential?.expiresAt;
  if (credential !== undefined && expiresAt !== undefined) {
    const expire = () => {
      const left = expiresAt - credential.now();
      if (left > 0) {
        expiry = setTimeout(expire, Math.min(left, maxTimerMs));
        expiry.unref();
      } else stream.fail('VK_UNAUTHORIZED', `token ${credential.id} has expired`);
    };
    expire();
  }
  return stream;
}
