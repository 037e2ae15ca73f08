import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readServerSentEvents, type ServerSentEvent } from '../../src/cli/sse-reader.js';

async function read(chunks: readonly Uint8Array[]): Promise<ServerSentEvent[]> {
  const out: ServerSentEvent[] = [];
  async function* source() {
    yield* chunks;
  }
  for await (const event of readServerSentEvents(source())) out.push(event);
  return out;
}

const text = (s: string) => [new TextEncoder().encode(s)];

/** Cuts bytes at the given offsets (any byte, even inside a UTF-8 character or a CRLF). */
function cut(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...new Set(offsets.map((o) => o % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(last, point));
    last = point;
  }
  return chunks;
}

describe('readServerSentEvents', () => {
  it('reads events, names, multi-line data, comments and ids', async () => {
    const stream =
      ': keep-alive\n\nevent: run\ndata: {"a":1}\n\ndata:first\ndata: second\nid: 7\n\nevent: run\n\n';
    expect(await read(text(stream))).toEqual([
      { event: 'run', data: '{"a":1}' },
      { event: 'message', data: 'first\nsecond', id: '7' },
    ]);
  });

  it('drops an event cut off by the end of the stream', async () => {
    expect(await read(text('event: run\ndata: {}\n\nevent: run\ndata: {"partial"'))).toEqual([
      { event: 'run', data: '{}' },
    ]);
  });

  it('reads the same events however the bytes are chunked and whichever line endings are used', async () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'é', '😀', ' ', ':', '{', '"'), maxLength: 12 });
    const events = fc.array(
      fc.record({
        event: fc.constantFrom('run', 'log'),
        data: fc.array(line, { minLength: 1, maxLength: 3 }),
      }),
      { maxLength: 6 },
    );
    await fc.assert(
      fc.asyncProperty(
        events,
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (list, eol, offsets) => {
          const body = list
            .map((e) => `event: ${e.event}${eol}${e.data.map((d) => `data: ${d}${eol}`).join('')}${eol}`)
            .join(`: comment${eol}`);
          const chunks = cut(new TextEncoder().encode(body), offsets);
          expect(await read(chunks)).toEqual(list.map((e) => ({ event: e.event, data: e.data.join('\n') })));
        },
      ),
      { numRuns: 200 },
    );
  });
});
