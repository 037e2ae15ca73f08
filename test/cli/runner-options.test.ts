import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/exit-codes.js';
import { defaultMaxLogBytes, resolveRunnerSettings } from '../../src/cli/runner-options.js';

const server = { server: 'http://127.0.0.1:7070' };

describe('valkyrie runner --max-log-size', () => {
  it('limits each job to 100 MiB of output by default, and names the limit and the flag in its notice', () => {
    const { logLimit } = resolveRunnerSettings(server, {}, '/tmp');
    expect(logLimit.bytes).toBe(defaultMaxLogBytes);
    expect(logLimit.notice).toContain('limit of 100 MiB');
    expect(logLimit.notice).toContain('--max-log-size');
  });

  it('takes a size as --max-bundle-size does, and refuses what is not one', () => {
    expect(resolveRunnerSettings({ ...server, maxLogSize: '1GiB' }, {}, '/tmp').logLimit.bytes).toBe(
      1024 ** 3,
    );
    for (const bad of ['lots', '0', '10'])
      expect(() => resolveRunnerSettings({ ...server, maxLogSize: bad }, {}, '/tmp')).toThrow(UsageError);
  });
});
