import { describe, expect, it } from 'vitest';
import { compareDecimal } from '../../src/store/postgres/queue-store.js';

describe('compareDecimal (claim order of bigint columns as text)', () => {
  it('orders like the integers, across signs, lengths and past 2^53', () => {
    const values = [
      '-9223372036854775808',
      '-9007199254740993',
      '-9007199254740992',
      '-100',
      '-99',
      '-10',
      '-9',
      '-1',
      '0',
      '1',
      '9',
      '10',
      '99',
      '100',
      '1764400000000',
      '1764400060000',
      '9007199254740992',
      '9007199254740993',
      '9223372036854775807',
    ];
    for (const a of values)
      for (const b of values) {
        const expected = Math.sign(Number(BigInt(a) - BigInt(b)));
        expect(Math.sign(compareDecimal(a, b)), `${a} vs ${b}`).toBe(expected);
      }
  });
});
