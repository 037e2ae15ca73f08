import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dbOnNewSchemas, postgresSkipReason } from '../store/postgres-server.js';
import { fleetsInOwnWorkspaces, until, untilFirstJobRuns, untilRunEnds } from './fleet-processes.js';

/**
 * A server is SIGKILLed while a runner runs one of its jobs; a new server process on the same port and
 * store takes the run over, and the runner, reconnecting, resumes its lease there: the job is not run
 * again, it completes in its first attempt with every line of its log — also the lines and the step
 * result sent while no server was up, over WebSocket (`auto`) or long-poll (`--protocol http`, whose
 * session stays open while its requests fail).
 */
const postgres = dbOnNewSchemas();
const fleets = fleetsInOwnWorkspaces('vkt-e2e-restart-admin-0123456789');

interface RunView {
  status: string;
  jobs: {
    id: string;
    status: string;
    attempt: number;
    reason?: string;
    steps?: { conclusion?: string }[];
  }[];
}

const stores: [name: string, db: () => string[], protocol: string, skip?: string][] = [
  ['SQLite', () => [], 'auto'],
  ['SQLite', () => [], 'http'],
  ['Postgres', postgres, 'auto', postgresSkipReason],
];

const ticks = Array.from({ length: 15 }, (_, index) => `tick ${index + 1}`);

for (const [name, db, protocol, skip] of stores) {
  if (skip !== undefined) console.warn(`${name}: skipping the server restart test: ${skip}`);
  describe.skipIf(skip !== undefined)(
    `a server restarted under a running job (${name}, --protocol ${protocol})`,
    () => {
      it('lets the runner resume its lease: the job completes once, in one attempt, with its whole log', async () => {
        const { ws, first, runner, api, restart } = await fleets.startRestartable(db(), [
          ...['--labels', 'restart', '--protocol', protocol],
        ]);
        const marker = join(ws.dir, 'ran');
        const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
          workflow: `name: restart
jobs:
  slow:
    runs-on: restart
    steps:
      - run: 'echo ran >> ${marker}; echo before the restart; for i in $(seq 1 15); do echo tick $i; sleep 0.2; done; echo after the restart'
`,
        });
        const runPath = `/api/v1/runs/${run.id}`;
        const jobId = await untilFirstJobRuns(api, runPath);
        const logPath = `${runPath}/logs?job=${jobId}`;
        await until('the first line', async () =>
          (await api<string>('GET', logPath)).includes('before the restart') ? true : undefined,
        );
        first.child.kill('SIGKILL');
        await first.done;

        const second = await restart();
        const ended = await untilRunEnds<RunView>(api, runPath);
        expect(ended, runner.stderr()).toMatchObject({
          status: 'succeeded',
          jobs: [{ id: jobId, status: 'succeeded', attempt: 1 }],
        });
        const log = await api<string>('GET', logPath);
        expect(log).toContain('running on runner');
        expect(log).toContain('before the restart');
        expect(log, `${runner.stderr()}\n${second.stderr()}`).toContain('after the restart');
        expect(log.split('\n').filter((line) => line.startsWith('tick '))).toEqual(ticks);
        expect(ended.jobs[0]?.steps?.map((step) => step.conclusion)).toEqual(['success']);
        expect(log).not.toContain('runner_lost');
        expect(readFileSync(marker, 'utf8')).toBe('ran\n');
      });
    },
  );
}
