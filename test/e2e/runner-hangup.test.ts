import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { valkyrieBin, Workspace } from './cli.js';
import { adminApi, killAll, type StartedProcess, startServerForRunners, until } from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * `valkyrie runner` started in a terminal that then closes (an SSH session ending): the kernel sends
 * it SIGHUP, and its writes to the terminal fail with EIO from then on. The terminal is a real pty,
 * made by script(1), which is killed. The runner used to die at once, its job left running on the
 * server until its lease expired; it now drains as on SIGTERM: the job finishes and reports, and the
 * runner deregisters and exits.
 */
const admin = 'vkt-e2e-runner-hangup-admin-0123456';
const scriptMissing = spawnSync('script', ['--version']).error !== undefined;

interface RunView {
  status: string;
  jobs: { id: string; status: string }[];
}

describe.skipIf(scriptMissing)('a runner whose terminal closes', () => {
  const ws = new Workspace();
  const processes: StartedProcess[] = [];
  let terminal: ChildProcess | undefined;
  afterAll(async () => {
    terminal?.kill('SIGKILL');
    await killAll(processes);
    ws.dispose();
  });

  it('finishes its running job, deregisters and exits', async () => {
    const { server, registration } = await startServerForRunners(ws, admin, processes);
    const api = adminApi(server.url, admin);
    const workDir = join(ws.dir, '.valkyrie', 'work-hangup');
    const runner = [process.execPath, valkyrieBin, 'runner', '--server', server.url, '--token', registration]
      .concat(['--name', 'hangup', '--labels', 'hangup', '--work-dir', workDir])
      .map(shellWord)
      .join(' ');
    // -e: script's own exit is the runner's; -f: what the runner prints reaches script's stdout at once.
    terminal = spawn('script', ['-qfec', `exec ${runner}`, '/dev/null'], {
      cwd: ws.dir,
      // bash: shellWord may quote $'…', which sh (dash) does not read.
      env: { ...process.env, NO_COLOR: '1', SHELL: '/bin/bash' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let printed = '';
    terminal.stdout?.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    await waitFor(
      () => printed.includes('connected to') || terminal?.exitCode !== null,
      20_000,
      'the runner',
    );
    expect(printed).toContain('connected to');

    const { run } = await api<{ run: { id: string } }>('POST', '/api/v1/runs', {
      workflow:
        'name: hangup\njobs:\n  a: { runs-on: hangup, steps: [{ run: "sleep 2; echo after-the-hangup" }] }\n',
    });
    const runPath = `/api/v1/runs/${run.id}`;
    const jobId = await until('the job to start', async () => {
      const job = (await api<{ run: RunView }>('GET', runPath)).run.jobs[0];
      return job?.status === 'running' ? job.id : undefined;
    });

    // The terminal closes: its pty goes with script, and the runner, its controlling process, gets SIGHUP.
    terminal.kill('SIGKILL');
    const ended = await until('the run to end', async () => {
      const view = (await api<{ run: RunView }>('GET', runPath)).run;
      return view.status === 'running' || view.status === 'queued' ? undefined : view;
    });
    expect(ended.status).toBe('succeeded');
    const path = `${runPath}/log-lines?job=${jobId}`;
    const { lines } = await api<{ lines: { text: string }[] }>('GET', path);
    expect(lines.map(({ text }) => text)).toContain('after-the-hangup');
    // It deregistered (listed stopped, not offline) and let go of its work dir's lock on its way out.
    const listed = await until('the runner to stop', async () => {
      const { runners } = await api<{ runners: { name: string; connected: boolean; stoppedAt?: number }[] }>(
        'GET',
        '/api/v1/runners',
      );
      const hangup = runners.find(({ name }) => name === 'hangup');
      return hangup?.connected === false ? hangup : undefined;
    });
    expect(listed.stoppedAt).toBeGreaterThan(0);
    await waitFor(() => !existsSync(join(workDir, 'runner.lock')), 10_000, 'the runner to exit');
  }, 60_000);
});
