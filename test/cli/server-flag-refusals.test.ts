import { describe, expect, it } from 'vitest';
import { logsCommand } from '../../src/cli/commands/history.js';
import { rerunCommand } from '../../src/cli/commands/resume.js';
import { UsageError } from '../../src/cli/exit-codes.js';

// Nothing listens here: a command that asked the server would fail on the network instead.
const server = 'http://127.0.0.1:2';

describe("flags that would do nothing on a server's run are refused before it is asked", () => {
  it('rerun --jobs with --server: the runners take its jobs as they are free', async () => {
    await expect(rerunCommand('1', { server, token: 't', jobs: '2' })).rejects.toThrow(UsageError);
    await expect(rerunCommand('1', { server, token: 't', jobs: '2' })).rejects.toThrow(
      /--jobs is for a local run/,
    );
  });

  it('logs --raw --follow with --server: followed lines are printed as valkyrie run prints them', async () => {
    await expect(
      logsCommand('1', undefined, { server, token: 't', follow: true, raw: true }),
    ).rejects.toThrow(/--raw and --follow/);
  });
});
