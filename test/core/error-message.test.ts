import { describe, expect, it } from 'vitest';
import { asError, messageOf } from '../../src/core/error-message.js';

describe('messageOf', () => {
  it("gives an Error's message, without its name or stack", () => {
    expect(messageOf(new TypeError('bad input'))).toBe('bad input');
  });

  it('gives anything else thrown as its text', () => {
    expect(messageOf('plain words')).toBe('plain words');
    expect(messageOf(42)).toBe('42');
    expect(messageOf(undefined)).toBe('undefined');
  });
});

describe('asError', () => {
  it('keeps an Error as it is', () => {
    const error = new RangeError('out of range');
    expect(asError(error)).toBe(error);
  });

  it('wraps anything else in an Error of its text', () => {
    const wrapped = asError('plain words');
    expect(wrapped).toBeInstanceOf(Error);
    expect(wrapped.message).toBe('plain words');
  });
});
