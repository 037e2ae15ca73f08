import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runsCommand } from '../../src/cli/commands/history.js';
import { UsageError } from '../../src/cli/exit-codes.js';
import { workflowFilterOf } from '../../src/cli/run-filters.js';
import type { RunStatus } from '../../src/core/outcome.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { fenceRequest } from '../store/run-fence.contract.js';
import { serveAndRecordFetches } from './served-stores.js';

const adminToken = 'run-filters-admin';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A state directory holding finished runs of two workflows: ci (succeeded, failed) and deploy (cancelled). */
async function stateWithRuns(): Promise<{ readonly dir: string; readonly stores: Stores }> {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-run-filters-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const stores = openSqliteStores(join(dir, 'valkyrie.db'));
  const finished = async (workflowPath: string, status: RunStatus) => {
    const name = workflowPath.replace(/^.*\/|\.yml$/g, '');
    const { id } = await stores.runs.createRun({ workflowName: name, workflowPath, createdAt: 1 });
    await stores.runs.updateRun(id, { status: 'running', startedAt: 2 });
    await stores.runs.updateRun(id, { status, finishedAt: 3 });
  };
  await finished('.github/workflows/ci.yml', 'succeeded');
  await finished('.github/workflows/ci.yml', 'failed');
  await finished('deploy.yml', 'cancelled');
  return { dir, stores };
}

async function printedBy(command: () => Promise<number>): Promise<{ exit: number; printed: string }> {
  let printed = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed += String(chunk);
    return true;
  });
  try {
    return { exit: await command(), printed };
  } finally {
    vi.mocked(process.stdout.write).mockRestore();
  }
}

const listed = (printed: string) =>
  (JSON.parse(printed) as { workflowName: string; status: string }[]).map(
    (run) => `${run.workflowName} ${run.status}`,
  );

describe('valkyrie runs --status --workflow', () => {
  it("lists only the local runs in those statuses of that workflow, by name or by its file's name", async () => {
    const { dir, stores } = await stateWithRuns();
    await stores.close();
    const runs = (flags: { status?: string[]; workflow?: string }) =>
      printedBy(() => runsCommand({ stateDir: dir, json: true, ...flags }));
    expect(listed((await runs({ status: ['failed', 'cancelled'] })).printed)).toEqual([
      'deploy cancelled',
      'ci failed',
    ]);
    expect(listed((await runs({ workflow: 'ci.yml' })).printed)).toEqual(['ci failed', 'ci succeeded']);
    expect(listed((await runs({ workflow: 'deploy' })).printed)).toEqual(['deploy cancelled']);
    const none = await printedBy(() =>
      runsCommand({ stateDir: dir, status: ['failed'], workflow: 'deploy' }),
    );
    expect(none).toEqual({ exit: 0, printed: 'No runs with status failed, workflow "deploy".\n' });
    // The path as the shell completes it, from the folder the run was started in.
    expect(listed((await runs({ workflow: './.github/workflows/ci.yml' })).printed)).toEqual([
      'ci failed',
      'ci succeeded',
    ]);
  });

  it('takes a workflow file as the shell gives it (./, .., absolute) as the path submit records from here', () => {
    const cwd = '/home/me/repo';
    expect(workflowFilterOf('./wf/ci.yml', cwd)).toBe('wf/ci.yml');
    expect(workflowFilterOf('wf/../wf/./ci.yml', cwd)).toBe('wf/ci.yml');
    expect(workflowFilterOf('/home/me/repo/wf/ci.yml', cwd)).toBe('wf/ci.yml');
    // Names, plain paths, and paths outside the current folder go as given.
    for (const given of ['ci', 'wf/ci.yml', 'deploy/prod', '/elsewhere/ci.yml', '../other/ci.yml', './'])
      expect(workflowFilterOf(given, cwd)).toBe(given);
  });

  it('passes the filters to the server and lists what it answers', async () => {
    const { dir, stores } = await stateWithRuns();
    const { server, requests } = await serveAndRecordFetches(stores, dir, adminToken, cleanups);
    const flags = {
      server: server.url,
      token: adminToken,
      status: ['succeeded', 'failed'],
      workflow: 'ci.yml',
    };
    const answer = await printedBy(() => runsCommand({ ...flags, json: true }));
    expect(listed(answer.printed)).toEqual(['ci failed', 'ci succeeded']);
    expect(requests.map((url) => [url.searchParams.get('status'), url.searchParams.get('workflow')])).toEqual(
      [['succeeded,failed', 'ci.yml']],
    );
    const none = await printedBy(() => runsCommand({ ...flags, workflow: 'deploy.yml' }));
    expect(none).toEqual({
      exit: 0,
      printed: `No runs on ${new URL(server.url).origin} with status succeeded or failed, workflow "deploy.yml".\n`,
    });
  });

  it('lists a run whose process is gone by --status interrupted, and leaves it out of --status running', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'valkyrie-run-filters-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const stores = openSqliteStores(join(dir, 'valkyrie.db'));
    const owner = { host: hostname(), pid: process.pid };
    // Oldest first: a run this process drives, one whose owner stopped heartbeating long ago, a finished one.
    const running = async (workflowName: string, heartbeatAt: number) => {
      const { id } = await stores.runs.createRun({
        workflowName,
        workflowPath: `${workflowName}.yml`,
        createdAt: 1,
      });
      await stores.runs.updateRun(id, { status: 'running', startedAt: 2 });
      await stores.recovery.saveResumable(
        id,
        { source: `name: ${workflowName}`, request: fenceRequest },
        { owner, heartbeatAt },
      );
    };
    await running('live', Date.now());
    await running('gone', 1);
    const { id } = await stores.runs.createRun({
      workflowName: 'done',
      workflowPath: 'done.yml',
      createdAt: 1,
    });
    await stores.runs.updateRun(id, { status: 'succeeded', finishedAt: 3 });
    await stores.close();
    const runs = (status: string[], limit?: string) =>
      printedBy(() =>
        runsCommand({ stateDir: dir, json: true, status, ...(limit === undefined ? {} : { limit }) }),
      );
    expect(listed((await runs(['interrupted'])).printed)).toEqual(['gone running']);
    expect(listed((await runs(['running'])).printed)).toEqual(['live running']);
    expect(listed((await runs(['running', 'interrupted'])).printed)).toEqual([
      'gone running',
      'live running',
    ]);
    // The newest running run is left out of a page of one: the listing reads on to the next.
    expect(listed((await runs(['running'], '1')).printed)).toEqual(['live running']);
    expect(listed((await runs(['interrupted', 'succeeded'], '1')).printed)).toEqual(['done succeeded']);
    const table = await printedBy(() => runsCommand({ stateDir: dir, status: ['interrupted'] }));
    expect(table.printed).toMatch(/\n\d+\s+interrupted\s.*gone #1\n$/);
  });

  it('refuses --status interrupted for a server, whose runs are never listed so', async () => {
    await expect(
      runsCommand({ server: 'http://127.0.0.1:9', token: adminToken, status: ['interrupted'] }),
    ).rejects.toThrow(
      new UsageError(
        '--status interrupted lists local runs whose valkyrie process died; a server takes such runs over itself, so none of its runs is interrupted',
      ),
    );
  });

  it('refuses an unknown status or an empty workflow before it opens anything', async () => {
    const nowhere = join(tmpdir(), 'valkyrie-run-filters-never-made');
    await expect(runsCommand({ stateDir: nowhere, status: ['failed', 'broken'] })).rejects.toThrow(
      new UsageError(
        '--status: "broken" is not a run status; one of queued, running, succeeded, failed, cancelled, interrupted (comma-separated or repeated)',
      ),
    );
    await expect(runsCommand({ stateDir: nowhere, workflow: '' })).rejects.toThrow(
      new UsageError('--workflow must not be empty: a workflow name or file'),
    );
  });
});
