import { describe, expect, it } from 'vitest';
import {
  createJournalBuffer,
  journalBytes,
  RecordJournalWriter,
  readUnpostedRecords,
} from '../../../src/executors/thread/record-journal.js';

describe('RecordJournal', () => {
  it('gives back each record as a structured clone would, whichever encoding it took', () => {
    const buffer = createJournalBuffer();
    const writer = new RecordJournalWriter(buffer);
    const payloads: unknown[] = [
      undefined,
      null,
      0,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 60,
      'plain',
      'lone \ud800 surrogate, ünïcödé',
      true,
      { nested: { list: [1, 'two', null, { three: 3 }] } },
      { kept: undefined },
      JSON.parse('{"__proto__": {"own": 1}}'),
      [1, undefined, 3],
      new Array(2),
      new Date(0),
      new Map([['k', 1n]]),
      Object.assign(Object.create(null) as object, { bare: 1 }),
    ];
    payloads.forEach((payload, i) => {
      expect(writer.append(i % 5, 2 ** 40 + i, payload)).toBe(true);
    });
    const records = readUnpostedRecords(buffer);
    const expected = payloads.flatMap((payload, i) => [i % 5, 2 ** 40 + i, structuredClone(payload)]);
    expect(records).toEqual(expected);
    expect(Object.is(records[3 * 3 + 2], -0)).toBe(true);
    expect(Object.hasOwn(records[11 * 3 + 2] as object, 'kept')).toBe(true);
    expect(Object.getPrototypeOf(records.at(-1))).toBe(null);
  });

  it('refuses what does not fit or cannot be copied, and keeps what it took before', () => {
    const buffer = createJournalBuffer();
    const writer = new RecordJournalWriter(buffer);
    expect(writer.append(0, 1, 'x'.repeat(journalBytes - 100))).toBe(true);
    expect(writer.append(0, 2, 'y'.repeat(200))).toBe(false);
    expect(writer.append(0, 3, () => 1)).toBe(false);
    expect(writer.append(0, 4, Symbol('s'))).toBe(false);
    expect(readUnpostedRecords(buffer)).toEqual([0, 1, 'x'.repeat(journalBytes - 100)]);
  });

  it('is empty after clear(), and refills from the start', () => {
    const buffer = createJournalBuffer();
    const writer = new RecordJournalWriter(buffer);
    writer.append(0, 1, { a: 1 });
    writer.clear();
    expect(readUnpostedRecords(buffer)).toEqual([]);
    writer.append(4, 2, undefined);
    expect(readUnpostedRecords(buffer)).toEqual([4, 2, undefined]);
  });
});
