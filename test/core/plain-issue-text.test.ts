import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { plainIssueText } from '../../src/core/plain-issue-text.js';

const firstMessage = (schema: z.ZodType, value: unknown) =>
  schema.safeParse(value, { error: plainIssueText }).error?.issues[0]?.message;

describe('plainIssueText', () => {
  it('says what was expected and what came, in words', () => {
    expect(firstMessage(z.string(), 5)).toBe('expected a string, received the number 5');
    expect(firstMessage(z.record(z.string(), z.string()), [1])).toBe('expected an object, received an array');
    expect(firstMessage(z.number().int(), 2.5)).toBe('expected a whole number, received the number 2.5');
    expect(firstMessage(z.boolean(), null)).toBe('expected true or false, received null');
    expect(firstMessage(z.strictObject({ a: z.string() }), {})).toBe('is required');
  });

  it('lists the allowed values and the unknown keys', () => {
    expect(firstMessage(z.enum(['a', 'b']), 'c')).toBe('must be one of "a", "b"; received "c"');
    expect(firstMessage(z.strictObject({}), { x: 1, y: 2 })).toBe('unknown keys "x", "y"');
  });

  it('says sizes by what is measured', () => {
    expect(firstMessage(z.string().min(1), '')).toBe('must not be empty');
    expect(firstMessage(z.string().max(3), 'abcd')).toBe('must be at most 3 characters long');
    expect(firstMessage(z.array(z.number()).min(2), [1])).toBe('must have at least 2 items');
    expect(firstMessage(z.number().gt(0), 0)).toBe('must be more than 0; received 0');
    expect(firstMessage(z.number().max(10), 11)).toBe('must be at most 10; received 11');
  });

  it("leaves a schema's own message alone", () => {
    expect(firstMessage(z.string().min(2, 'too short'), 'a')).toBe('too short');
  });
});
