import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/exit-codes.js';
import { parseQueueFlags } from '../../src/cli/queue-options.js';

const now = 1_700_000_000_000;

describe('parseQueueFlags', () => {
  it('has the documented defaults', () => {
    expect(parseQueueFlags({}, now)).toEqual({
      priority: undefined,
      notBefore: undefined,
      agingIntervalMs: 60_000,
      queueCapacity: 10_000,
      idempotency: undefined,
    });
  });

  it('resolves values', () => {
    expect(
      parseQueueFlags(
        {
          priority: 'high',
          notBefore: '30s',
          agingInterval: '2m',
          queueCapacity: '5',
          idempotencyKey: 'k',
          idempotencyWindow: '1h',
        },
        now,
      ),
    ).toEqual({
      priority: 'high',
      notBefore: now + 30_000,
      agingIntervalMs: 120_000,
      queueCapacity: 5,
      idempotency: { key: 'k', windowMs: 3_600_000 },
    });
    expect(parseQueueFlags({ notBefore: '2026-05-01T12:00:00Z' }, now).notBefore).toBe(
      Date.UTC(2026, 4, 1, 12),
    );
    expect(parseQueueFlags({ idempotencyKey: 'k'.repeat(1024) }, now).idempotency?.key).toHaveLength(1024);
    expect(parseQueueFlags({ agingInterval: `${100 * 365 * 24}h` }, now).agingIntervalMs).toBe(
      100 * 365 * 24 * 3_600_000,
    );
    expect(parseQueueFlags({ idempotencyKey: 'k' }, now).idempotency).toEqual({
      key: 'k',
      windowMs: 86_400_000,
    });
  });

  it('names the option and the value it refuses', () => {
    const cases: [Parameters<typeof parseQueueFlags>[0], string][] = [
      [
        { priority: 'High' },
        '--priority must be one of critical, high, normal, low, background, received "High" (did you mean high? priorities are lower-case)',
      ],
      [{ priority: 'hihg' }, 'received "hihg" (did you mean high?)'],
      [{ priority: 'backgrund' }, 'received "backgrund" (did you mean background?)'],
      [{ notBefore: 'noon' }, '--not-before must be an ISO 8601 timestamp'],
      [{ agingInterval: '0s' }, '--aging-interval must be a duration such as 250ms'],
      [
        { agingInterval: '99999999999999h' },
        '--aging-interval must be a duration such as 250ms, 2s, 1m or 1h, or a number of seconds, above 0 and at most 100 years, received "99999999999999h"',
      ],
      [
        { idempotencyKey: 'k', idempotencyWindow: `${100 * 366 * 24 + 1}h` },
        '--idempotency-window must be a duration such as 250ms, 2s, 1m or 1h, or a number of seconds, above 0 and at most 100 years',
      ],
      [{ queueCapacity: '1.5' }, '--queue-capacity must be a positive integer, received "1.5"'],
      [{ queueCapacity: '-3' }, '--queue-capacity must be a positive integer, received "-3"'],
      [{ idempotencyKey: ' ' }, '--idempotency-key must not be empty'],
      [
        { idempotencyKey: 'é'.repeat(513) },
        '--idempotency-key must be at most 1024 bytes (UTF-8), received 1026',
      ],
      [{ idempotencyWindow: '1h' }, '--idempotency-window needs --idempotency-key'],
    ];
    for (const [flags, message] of cases) {
      expect(() => parseQueueFlags(flags, now)).toThrow(UsageError);
      expect(() => parseQueueFlags(flags, now)).toThrow(message);
    }
    expect(() => parseQueueFlags({ priority: 'urgent' }, now)).toThrow(/received "urgent"$/);
  });

  // As the server reads an Idempotency-Key header (the IETF draft's Structured Field String): the
  // quotes are syntax, so valkyrie run and valkyrie submit take '"abc"' as the key abc.
  it('reads a key in double quotes as the key inside them', () => {
    const keyOf = (idempotencyKey: string) => parseQueueFlags({ idempotencyKey }, now).idempotency?.key;
    expect(keyOf('"abc"')).toBe('abc');
    expect(keyOf('"say \\"hi\\" \\\\ bye"')).toBe('say "hi" \\ bye');
    expect(keyOf('abc')).toBe('abc');
    expect(keyOf('a"b"')).toBe('a"b"');
    expect(keyOf('" "')).toBe(' ');
  });

  it.each([
    ['"abc', 'expected a closing double quote'],
    ['""', 'expected a non-empty string between the quotes'],
    ['"abc" ', 'expected nothing after its closing quote, found " "'],
    ['"a\\bc"', 'a backslash escapes only " or \\ (at character 3)'],
    ['"é"', 'expected printable ASCII only (at character 2)'],
  ])('refuses %s, which begins as a quoted key but is none, naming the option', (idempotencyKey, why) => {
    expect(() => parseQueueFlags({ idempotencyKey }, now)).toThrow(UsageError);
    expect(() => parseQueueFlags({ idempotencyKey }, now)).toThrow(
      `--idempotency-key: a value that begins with a double quote is a Structured Field String (RFC 8941 §3.3.3), as the Idempotency-Key draft makes it: ${why}, received ${JSON.stringify(idempotencyKey)}`,
    );
  });
});
