import { Writable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { describe, expect, it } from 'vitest';
import { type EventStream, openEventStream } from '../../src/server/sse.js';

/** A reply whose raw response is a writable of a small buffer, taken only when `take()` says so. */
function slowReply() {
  const pending: (() => void)[] = [];
  const raw = Object.assign(
    new Writable({
      highWaterMark: 64,
      write(_chunk, _encoding, done) {
        pending.push(done);
      },
    }),
    { writeHead: () => {} },
  );
  const take = () => {
    for (const done of pending.splice(0)) done();
  };
  return { reply: { hijack: () => {}, raw } as unknown as FastifyReply, raw, take };
}

describe('openEventStream', () => {
  it('drained() waits while the client is behind, and says false once the stream has ended', async () => {
    const { reply, raw, take } = slowReply();
    const stream = openEventStream(reply, new Set<EventStream>());
    stream.send('log', { text: 'x'.repeat(100) });
    expect(raw.writableNeedDrain).toBe(true);
    let drained: boolean | undefined;
    const waiting = stream.drained().then((open) => {
      drained = open;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBeUndefined();
    while (raw.writableNeedDrain) {
      take();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waiting;
    expect(drained).toBe(true);
    expect(await stream.drained()).toBe(true);

    stream.end();
    expect(await stream.drained()).toBe(false);
  });

  it('abort() destroys the response instead of ending it', () => {
    const { reply, raw } = slowReply();
    const stream = openEventStream(reply, new Set<EventStream>());
    let ended = false;
    stream.onEnd(() => {
      ended = true;
    });
    stream.abort();
    expect(ended).toBe(true);
    expect(raw.destroyed).toBe(true);
    expect(raw.writableEnded).toBe(false);
  });
});
