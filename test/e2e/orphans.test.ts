import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { events, summary, Workspace } from './cli.js';
import {
  createToken,
  killAll,
  type StartedProcess,
  startProcess,
  startServerForRunners,
  startSubmit,
} from './fleet-processes.js';
import { isAlive as alive, readPid, waitFor } from './process-state.js';

describe.skipIf(process.platform !== 'linux')(
  'processes a job leaves running in a session of their own',
  () => {
    const ws = new Workspace();
    const kept: number[] = [];
    const processes: StartedProcess[] = [];
    afterAll(async () => {
      await killAll(processes);
      for (const pid of kept) if (alive(pid)) process.kill(pid, 'SIGKILL');
      ws.dispose();
    });

    it('are stopped when the job ends, as GitHub’s runner does, but for one started with the mark cleared; each stopped one is named on stderr', async () => {
      const file = ws.write(
        'daemons.yml',
        `jobs:
  serve:
    runs-on: ubuntu-latest
    steps:
      - run: setsid sh -c 'echo $$ > daemon.pid; exec sleep 47' > /dev/null 2>&1 < /dev/null &
      - run: RUNNER_TRACKING_ID= setsid sh -c 'echo $$ > kept.pid; exec sleep 48' > /dev/null 2>&1 < /dev/null &
      # The daemons write their pids themselves (setsid may fork): wait for the files.
      - run: while [ ! -s daemon.pid ] || [ ! -s kept.pid ]; do sleep 0.05; done
`,
      );
      const result = await ws.run(['run', file, '--json']);
      expect(result.code).toBe(0);
      const daemon = readPid(join(ws.dir, 'daemon.pid')) ?? 0;
      const keptPid = readPid(join(ws.dir, 'kept.pid')) ?? 0;
      kept.push(daemon, keptPid);
      // valkyrie run has exited: its last sweep ran then.
      expect(alive(daemon)).toBe(false);
      expect(alive(keptPid)).toBe(true);
      // The job's log had closed before the sweep: the CLI says it on stderr, one line for the job.
      const said = result.stderr.split('\n').filter((line) => line.includes('stopped after the job ended'));
      expect(said).toEqual([
        expect.stringMatching(
          new RegExp(
            `^valkyrie: job "serve" \\(\\S+\\) left a process running .*: pid ${daemon} \\(sleep\\)$`,
          ),
        ),
      ]);
    });

    it('are stopped within a fraction of a second by a runner that lives on, which names them on its stderr', async () => {
      const admin = 'vkt-e2e-admin-token-orphans-0123456789';
      const { server, registration } = await startServerForRunners(ws, admin, processes);
      const submitToken = await createToken(server.url, admin, 'submit');
      const runner = startProcess(ws, [
        'runner',
        ...['--server', server.url, '--token', registration, '--name', 'orphans-runner'],
        ...['--labels', 'orphans', '--work-dir', join(ws.dir, '.valkyrie', 'work-orphans')],
      ]);
      processes.push(runner);
      await waitFor(
        () => /connected to/.test(runner.stdout()) || runner.child.exitCode !== null,
        20_000,
        'the runner to connect',
      );
      const pidFile = join(ws.dir, 'fleet-daemon.pid');
      const file = ws.write(
        'fleet-daemon.yml',
        `jobs:
  serve:
    runs-on: [self-hosted, orphans]
    steps:
      - run: setsid sh -c 'echo $$ > ${pidFile}; exec sleep 49' > /dev/null 2>&1 < /dev/null &
      - run: while [ ! -s ${pidFile} ]; do sleep 0.05; done
`,
      );
      const submitted = startSubmit(ws, processes, server.url, submitToken, file);
      const result = await submitted.done;
      expect(result.code, result.stderr).toBe(0);
      expect(summary(result.stdout).status).toBe('succeeded');
      const daemon = readPid(pidFile) ?? 0;
      kept.push(daemon);
      const ended = events(result.stdout).find((event) => event.type === 'job.completed');
      expect(typeof ended?.at).toBe('number');
      // The runner does not exit, so only the sweep's timer can stop the daemon: within a second of
      // the job's end (a fraction of one, with room for a loaded machine), counted to when it is seen gone.
      await waitFor(() => !alive(daemon), 2_000, `the daemon ${daemon} to be stopped`);
      expect(Date.now() - Number(ended?.at)).toBeLessThan(1_000);
      await waitFor(() => runner.stderr().includes(`pid ${daemon} (sleep)`), 1_000, 'the runner to name it');
      expect(runner.stderr()).toMatch(
        new RegExp(
          `^valkyrie runner: job "serve" \\(\\S+\\) left a process running .*: pid ${daemon} \\(sleep\\)$`,
          'm',
        ),
      );
      expect(runner.child.exitCode).toBeNull();
    }, 60_000);
  },
);
