import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { orAfter } from '../core/race-timeout.js';
import { dropSchema, postgresSkipReason, urlWithNewSchema } from '../store/postgres-server.js';
import { events, Workspace } from './cli.js';
import { callApi, killAll, type StartedProcess, startProcess, startServer } from './fleet-processes.js';

/**
 * Two `valkyrie server` processes on one Postgres schema, as replicas behind a load balancer, and one
 * `valkyrie runner` connected only to replica B: a run submitted to replica A, whose jobs no runner
 * connected to A can take, is handed to B (docs/replicas.md, "Which runners get a run's jobs") and runs
 * there to the end, each job once, while `submit --follow` on A follows it.
 */
const admin = 'vkt-e2e-run-handoff-admin-0123456789';

describe.skipIf(postgresSkipReason !== undefined)(
  'a run handed to the replica its runner is connected to',
  () => {
    const ws = new Workspace();
    const { url, schema } = urlWithNewSchema();
    const processes: StartedProcess[] = [];
    afterAll(async () => {
      await killAll(processes);
      ws.dispose();
      await dropSchema(schema);
    });

    it('runs a run submitted to replica A on the runner connected to replica B, each job once', async () => {
      const env = { VALKYRIE_ADMIN_TOKEN: admin };
      const a = await startServer(ws, ['--db', url, '--data-dir', '.valkyrie/server-a'], env);
      processes.push(a);
      const b = await startServer(ws, ['--db', url, '--data-dir', '.valkyrie/server-b'], env);
      processes.push(b);
      const created = await callApi(a.url, admin, 'POST', '/api/v1/tokens', { role: 'runner' });
      const { token } = (await created.json()) as { token: string };
      const runner = startProcess(ws, [
        'runner',
        ...['--server', b.url, '--token', token, '--name', 'on-b', '--labels', 'handoff'],
        ...['--work-dir', join(ws.dir, '.valkyrie', 'work-on-b')],
      ]);
      processes.push(runner);
      // Replica A lists it from the store, connected to B: the submit's answer then names it.
      for (let tries = 0; ; tries++) {
        const listed = await callApi(a.url, admin, 'GET', '/api/v1/runners');
        const { runners } = (await listed.json()) as { runners: { name: string; connected: boolean }[] };
        if (runners.some((listedRunner) => listedRunner.name === 'on-b' && listedRunner.connected)) break;
        if (tries > 400) throw new Error(`replica A never listed the runner: ${runner.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      const marker = join(ws.dir, 'marker');
      ws.write(
        'handoff.yml',
        `name: handoff
jobs:
  first: { runs-on: handoff, steps: [{ run: 'echo first >> ${marker}; echo hello from first' }] }
  second: { needs: first, runs-on: handoff, steps: [{ run: 'echo second >> ${marker}' }] }
`,
      );
      const submit = startProcess(ws, [
        'submit',
        'handoff.yml',
        ...['--server', a.url, '--token', admin, '--follow', '--json', '--no-bundle'],
      ]);
      processes.push(submit);
      const ended = await orAfter(submit.done, 60_000, undefined);
      expect(ended, `submit --follow is still waiting: ${submit.stderr()}\nA: ${a.stderr()}`).toBeDefined();
      expect(ended?.code, ended?.stderr).toBe(0);
      const shown = events(ended?.stdout ?? '');
      const runId = shown.find((event) => event.type === 'run.started')?.runId as string;
      expect(shown.at(-1)).toMatchObject({ type: 'run.completed', status: 'succeeded' });
      expect(shown.some((event) => event.type === 'log' && event.text === 'hello from first')).toBe(true);
      // While it waited on A, its job said where its runner is and that the run moves there, as the
      // job view does.
      expect(shown.find((event) => event.type === 'job.queued')).toMatchObject({
        name: 'first',
        noRunnerWith: ['handoff'],
        runnersElsewhere: [{ name: 'on-b' }],
        handoff: 'pending',
      });
      // A ended its event stream saying it handed the run to B: submit said so, no lost stream, and
      // followed it on from the store.
      const replicaB = /handed run \S+ to replica (\S+):/.exec(a.stderr())?.[1];
      expect(ended?.stderr).toContain(
        `valkyrie: run ${runId} is moving to another server (replica ${replicaB}), whose runners take its waiting jobs; following it there\n`,
      );
      expect(ended?.stderr).not.toContain('lost the event stream');

      // Each job ran once, on the runner connected to B, at its first attempt.
      expect(readFileSync(marker, 'utf8')).toBe('first\nsecond\n');
      expect(a.stderr()).toMatch(
        new RegExp(`handed run ${runId} to replica \\S+: its waiting jobs need runners`),
      );
      expect(b.stderr()).toContain(`took over run ${runId}, handed here by `);
      const views = await Promise.all(
        [a, b].map(async (replica) => {
          const shownRun = await ws.run(['show', runId, '--server', replica.url, '--token', admin, '--json']);
          expect(shownRun.code, shownRun.stderr).toBe(0);
          return JSON.parse(shownRun.stdout) as {
            status: string;
            jobs: { name: string; status: string; attempt: number; runner?: { name: string } }[];
          };
        }),
      );
      expect(views[0]).toEqual(views[1]);
      expect(views[0]?.status).toBe('succeeded');
      expect(views[0]?.jobs).toMatchObject([
        { name: 'first', status: 'succeeded', attempt: 1, runner: { name: 'on-b' } },
        { name: 'second', status: 'succeeded', attempt: 1, runner: { name: 'on-b' } },
      ]);
    }, 120_000);
  },
);
