import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SpawnerMessage } from '../../../src/executors/shell/spawner/protocol.js';
import {
  encodeRequests,
  isFrameable,
  ReplyDecoder,
} from '../../../src/executors/shell/spawner/script-frames.js';

/** One reply frame as valkyrie-spawner.pl writes it. */
function frame(type: string, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUInt32BE(5 + payload.length, 0);
  header.write(type, 4, 'latin1');
  header.writeUInt32BE(id, 5);
  return Buffer.concat([header, payload]);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

const replies = Buffer.concat([
  frame('R', 0),
  frame('S', 1, u32(4242)),
  frame('O', 1, Buffer.from('hello\n')),
  frame('E', 1, Buffer.alloc(70_000, 'e')),
  frame('X', 1, Buffer.from([0, 0, 0, 3, 0])),
  frame('D', 1, Buffer.from([1])),
  frame('F', 2, Buffer.from('ENOENT\0spawn nope ENOENT')),
  frame('F', 3, Buffer.from('\0spawn x Unknown system error -999')),
  frame('X', 4, Buffer.from([0xff, 0xff, 0xff, 0xff, 15])),
  frame('X', 5, Buffer.from([0xff, 0xff, 0xff, 0xff, 35])),
  frame('D', 6, Buffer.from([0])),
]);

const expected: SpawnerMessage[] = [
  { type: 'ready' },
  { type: 'spawned', id: 1, pid: 4242 },
  { type: 'output', id: 1, stream: 'stdout', data: Buffer.from('hello\n'), at: 7 },
  { type: 'output', id: 1, stream: 'stderr', data: Buffer.alloc(70_000, 'e'), at: 7 },
  { type: 'exit', id: 1, code: 3, signal: null },
  { type: 'drained', id: 1, groupGone: true },
  { type: 'failed', id: 2, code: 'ENOENT', message: 'spawn nope ENOENT' },
  { type: 'failed', id: 3, code: undefined, message: 'spawn x Unknown system error -999' },
  { type: 'exit', id: 4, code: null, signal: 'SIGTERM' },
  // As Node reports a signal it has no name for (SIGRTMIN+1).
  { type: 'exit', id: 5, code: 0, signal: null },
  { type: 'drained', id: 6, groupGone: false },
];

/** Output data as text: comparing Buffers of 70 KB byte by byte would make the property test slow. */
function readable(messages: readonly SpawnerMessage[]): unknown[] {
  return messages.map((message) =>
    message.type === 'output' ? { ...message, data: message.data.toString('latin1') } : message,
  );
}

function decodeInPieces(cuts: readonly number[]): SpawnerMessage[] {
  const decoder = new ReplyDecoder();
  const messages: SpawnerMessage[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    messages.push(...decoder.push(replies.subarray(start, cut), 7));
    start = cut;
  }
  messages.push(...decoder.push(replies.subarray(start), 7));
  return messages;
}

describe('ReplyDecoder', () => {
  it('decodes every reply type from one chunk', () => {
    expect(new ReplyDecoder().push(replies, 7)).toEqual(expected);
  });

  it('decodes the same however the stream is cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: replies.length }), { maxLength: 30 }), (cuts) => {
        expect(readable(decodeInPieces(cuts))).toEqual(readable(expected));
      }),
      { numRuns: 200 },
    );
  });

  it('decodes the stream fed one byte at a time', () => {
    const messages = decodeInPieces(Array.from({ length: replies.length }, (_, i) => i));
    expect(readable(messages)).toEqual(readable(expected));
  });

  it('throws on a reply it does not know, or one too short to carry an id', () => {
    expect(() => new ReplyDecoder().push(frame('?', 1), 0)).toThrow('unknown reply type 63');
    expect(() => new ReplyDecoder().push(Buffer.from([0, 0, 0, 1, 0x44]), 0)).toThrow('too short');
  });
});

describe('encodeRequests', () => {
  it('writes each request as a length and NUL-joined fields, variables as NAME=value', () => {
    const request = { type: 'spawn', id: 9, command: 'bash', args: ['-c', 'é'], cwd: '/tmp' } as const;
    const encoded = encodeRequests([
      { ...request, env: { A: '1', EMPTY: '' } },
      { ...request, id: 10, args: [], env: {} },
    ]);
    const first = '9\0bash\0/tmp\x002\0-c\0é\0A=1\0EMPTY=';
    const second = '10\0bash\0/tmp\x000';
    expect(encoded.readUInt32BE(0)).toBe(Buffer.byteLength(first));
    expect(encoded.toString('utf8', 4, 4 + Buffer.byteLength(first))).toBe(first);
    const next = 4 + Buffer.byteLength(first);
    expect(encoded.readUInt32BE(next)).toBe(second.length);
    expect(encoded.toString('utf8', next + 4)).toBe(second);
  });

  it('writes adopt and forget requests as the word and the process group', () => {
    const encoded = encodeRequests([
      { type: 'adopt', pgid: 4242 },
      { type: 'forget', pgid: 17 },
    ]);
    expect(encoded).toEqual(Buffer.from('\0\0\0\x0aadopt\x004242\0\0\0\x09forget\x0017', 'latin1'));
  });

  it('leaves to spawn() what has no frame: an empty command, a NUL anywhere', () => {
    const request = { command: 'bash', args: ['-c', 'true'], cwd: '/', env: { PATH: '/bin' } };
    expect(isFrameable(request)).toBe(true);
    expect(isFrameable({ ...request, command: '' })).toBe(false);
    expect(isFrameable({ ...request, command: 'ba\0sh' })).toBe(false);
    expect(isFrameable({ ...request, args: ['a\0'] })).toBe(false);
    expect(isFrameable({ ...request, cwd: '/\0' })).toBe(false);
    expect(isFrameable({ ...request, env: { 'A\0': 'x' } })).toBe(false);
    expect(isFrameable({ ...request, env: { A: 'x\0' } })).toBe(false);
  });
});
