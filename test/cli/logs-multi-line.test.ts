import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logsCommand } from '../../src/cli/commands/history.js';
import { serverLogsCommand } from '../../src/cli/commands/server-history.js';
import {
  adminToken,
  connectScriptedRunner,
  credential,
  jobCompleted,
  logLine,
  startTestServer,
  waitForRunStatus,
} from '../server/helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const twoJobs = `jobs:
  a:
    runs-on: linux
    steps:
      - run: echo a
  b:
    runs-on: linux
    steps:
      - run: echo b
`;

/** What `run` writes to stdout. */
async function printedBy(run: () => Promise<number>): Promise<string[]> {
  const printed: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    expect(await run()).toBe(0);
  } finally {
    vi.mocked(process.stdout.write).mockRestore();
  }
  return printed.join('').split('\n').slice(0, -1);
}

describe('valkyrie logs of several jobs, --server and local', () => {
  it('prefixes each line of an entry of several lines with its job, as the live views do', async () => {
    const live = await startTestServer();
    const created = await live.request('POST', '/api/v1/runs', { body: { workflow: twoJobs } });
    const runId = (created.body as { run: { id: string } }).run.id;
    const runner = await connectScriptedRunner(
      live.server.url,
      await credential(live.request, live.token),
      2,
    );
    for (const lease of await runner.leases(2)) {
      runner.transport.send(logLine(lease, 'warning: w1\nw2'));
      runner.transport.send(jobCompleted(lease));
    }
    await waitForRunStatus(live.request, runId, 'succeeded');

    const remote = await printedBy(() =>
      serverLogsCommand(runId, undefined, { server: live.server.url, token: adminToken }),
    );
    const local = await printedBy(() => logsCommand(runId, undefined, { db: join(live.dir, 'valkyrie.db') }));
    for (const lines of [remote, local]) {
      expect(lines.filter((line) => line.includes('w1') || line.includes('w2')).sort()).toEqual([
        '[a] w2',
        '[a] warning: w1',
        '[b] w2',
        '[b] warning: w1',
      ]);
      expect(lines.filter((line) => !/^\[[ab]\] /.test(line))).toEqual([]);
    }
  });
});
