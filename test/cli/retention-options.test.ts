import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/exit-codes.js';
import { retentionFlag } from '../../src/cli/retention-options.js';

describe('retentionFlag (--runner-retention, --bundle-retention)', () => {
  it.each(['--runner-retention', '--bundle-retention'])('%s takes days as well as any duration', (flag) => {
    expect(retentionFlag(flag, '7d')).toBe(7 * 86_400_000);
    expect(retentionFlag(flag, '1.5d')).toBe(36 * 3_600_000);
    expect(retentionFlag(flag, '24h')).toBe(86_400_000);
    expect(retentionFlag(flag, '90m')).toBe(5_400_000);
    expect(retentionFlag(flag, '60')).toBe(60_000);
  });

  it('names the flag and the value it refused, and says what it takes', () => {
    expect(() => retentionFlag('--runner-retention', 'a week')).toThrow(
      new UsageError('--runner-retention: expected a duration such as 7d, 12h or 30m, received "a week"'),
    );
    expect(() => retentionFlag('--runner-retention', '7 days')).toThrow(UsageError);
    expect(() => retentionFlag('--bundle-retention', '30s')).toThrow(
      new UsageError('--bundle-retention: expected at least 1m, received "30s"'),
    );
  });
});
