import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { collect, valkyrieBin, Workspace, waitForJobStatus } from './cli.js';

const exec = promisify(execFile);

const noSpace = 'valkyrie: cannot write to stdout: no space left on device (ENOSPC)\n';

/**
 * A command whose stdout or stderr cannot be written: /dev/full (ENOSPC, as a full disk under
 * `> out.log`), or an output opened only for reading (`1<file`, EBADF). It says so in one line on
 * stderr, as coreutils' `write error: No space left on device`, and exits 74 (EX_IOERR), or its own
 * code if it failed; never a stack trace. One that drives a run cancels it, as a closed pipe does
 * (closed-stdout.test.ts), and leaves it recorded cancelled. Before: Node's stack trace, exit 1, and
 * the run left interrupted or queued in the store.
 */
describe('a command whose output cannot be written', () => {
  const ws = new Workspace();
  const vk = (args: string) => `${[process.execPath, valkyrieBin].map(shellWord).join(' ')} ${args}`;
  const shell = async (command: string) => {
    const { stdout, stderr } = await exec('bash', ['-c', `${command}; echo "rc=$?"`], {
      cwd: ws.dir,
      env: { ...process.env, NO_COLOR: '1' },
    });
    const lines = stdout.trimEnd().split('\n');
    return { rc: lines.at(-1), stdout: lines.slice(0, -1).join('\n'), stderr };
  };
  const shown = async (run: string, stateDir: string) =>
    JSON.parse((await shell(vk(`show ${run} --state-dir ${stateDir} --json`))).stdout) as {
      status: string;
      jobs: { name: string; status: string; reason?: string }[];
    };

  beforeAll(async () => {
    ws.write('ok.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "echo hi" }]\n');
    ws.write('bad.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ bogus: 1 }]\n');
    await exec('bash', ['-c', vk('run ok.yml --state-dir st')], { cwd: ws.dir });
  }, 60_000);
  afterAll(() => ws.dispose());

  it('says that stdout is full in one line and exits 74, whatever the command', async () => {
    for (const args of [
      'runs --state-dir st',
      'runs --state-dir st --json',
      'show 1 --state-dir st',
      'logs 1 --state-dir st',
      'schema',
      'validate ok.yml',
      '--help',
      '--version',
    ])
      expect({ args, ...(await shell(`${vk(args)} >/dev/full`)) }).toEqual({
        args,
        rc: 'rc=74',
        stdout: '',
        stderr: noSpace,
      });
  }, 60_000);

  it('says that stdout cannot be written when it was opened for reading (EBADF)', async () => {
    expect(await shell(`${vk('runs --state-dir st')} 1<ok.yml`)).toEqual({
      rc: 'rc=74',
      stdout: '',
      stderr: 'valkyrie: cannot write to stdout: bad file descriptor (EBADF)\n',
    });
  }, 30_000);

  it("keeps a failed command's own code when its error line cannot be written", async () => {
    expect(await shell(`${vk('validate bad.yml')} 2>/dev/full`)).toEqual({
      rc: 'rc=2',
      stdout: '',
      stderr: '',
    });
    expect(await shell(`${vk('show 99 --state-dir st')} 2>/dev/full`)).toEqual({
      rc: 'rc=2',
      stdout: '',
      stderr: '',
    });
  }, 30_000);

  it('stops following with logs -f, exits 74, and leaves the run going', async () => {
    const go = join(ws.dir, 'go');
    ws.write(
      'ticking.yml',
      `jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: while [ ! -f ${go} ]; do echo tick; sleep 0.1; done\n`,
    );
    const run = collect(ws.start(['run', 'ticking.yml', '--state-dir', 'follow']));
    try {
      await waitForJobStatus(ws, '1', 'a', 'running', ['--state-dir', 'follow']);
      expect(await shell(`${vk('logs 1 -f --state-dir follow')} >/dev/full`)).toEqual({
        rc: 'rc=74',
        stdout: '',
        stderr: noSpace,
      });
      expect((await shown('1', 'follow')).status).toBe('running');
    } finally {
      // Ends the run however the test went.
      writeFileSync(go, '');
    }
    expect((await run).code).toBe(0);
  }, 60_000);

  it('cancels the run of valkyrie run as a closed pipe does, records it cancelled, and exits 74', async () => {
    ws.write(
      'long.yml',
      `jobs:
  slow:
    runs-on: ubuntu-latest
    steps: [{ run: "sleep 30" }]
  cleanup:
    needs: slow
    if: always()
    runs-on: ubuntu-latest
    steps: [{ run: "echo cleaned > cleaned.txt" }]
`,
    );
    const started = Date.now();
    const result = await shell(`${vk('run long.yml --state-dir full')} >/dev/full`);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(result.rc).toBe('rc=74');
    expect(result.stderr).toBe(
      `${noSpace}\nvalkyrie: stdout could not be written (ENOSPC): cancelling the run (Ctrl-C to kill its steps at once)…\n`,
    );
    const run = await shown('1', 'full');
    expect(run.status).toBe('cancelled');
    expect(run.jobs.find((job) => job.name === 'slow')).toMatchObject({
      status: 'cancelled',
      reason: 'the run was interrupted: its stdout could not be written (ENOSPC)',
    });
    expect(run.jobs.find((job) => job.name === 'cleanup')).toMatchObject({ status: 'succeeded' });
    expect(existsSync(join(ws.dir, 'cleaned.txt'))).toBe(true);
  }, 60_000);

  it('cancels the run of valkyrie resume too', async () => {
    ws.write('sleeps.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "sleep 30" }]\n');
    const first = ws.start(['run', 'sleeps.yml', '--state-dir', 'resumed']);
    const ended = collect(first);
    await waitForJobStatus(ws, '1', 'a', 'running', ['--state-dir', 'resumed']);
    // A crash of the process that drove the run: it is left for valkyrie resume.
    first.kill('SIGKILL');
    await ended;
    const result = await shell(`${vk('resume 1 --state-dir resumed')} >/dev/full`);
    expect(result.rc).toBe('rc=74');
    expect(result.stderr).toContain(noSpace);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect((await shown('1', 'resumed')).status).toBe('cancelled');
  }, 60_000);

  it('cancels the run when only stderr cannot be written, saying so on stdout', async () => {
    // The note of an unread .secrets is the run's first write to stderr.
    ws.write('.secrets', 'X=1\n');
    ws.write(
      'secret.yml',
      'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "echo ${{ secrets.X }}" }]\n',
    );
    const result = await shell(`${vk('run secret.yml --state-dir err')} 2>/dev/full`);
    expect(result.rc).toBe('rc=74');
    expect(result.stdout).toContain('the run was interrupted: its stderr could not be written (ENOSPC)');
    expect(result.stderr).toBe('');
    expect((await shown('1', 'err')).status).toBe('cancelled');
  }, 60_000);

  it('cancels the run of valkyrie rerun too', async () => {
    ws.write('flag', '');
    // Fails fast the first time (the flag is there), then sleeps in the rerun.
    ws.write(
      'fails.yml',
      'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "if [ -f flag ]; then rm flag; exit 1; fi; sleep 30" }]\n',
    );
    expect((await shell(vk('run fails.yml --state-dir again'))).rc).toBe('rc=1');
    const result = await shell(`${vk('rerun 1 --state-dir again')} >/dev/full`);
    expect(result.rc).toBe('rc=74');
    expect(result.stderr).toBe(
      `Re-running the failed jobs of run 1 on this machine.\n${noSpace}\nvalkyrie: stdout could not be written (ENOSPC): cancelling the run (Ctrl-C to kill its steps at once)…\n`,
    );
    // The rerun is the run's second attempt.
    const run = await shown('1', 'again');
    expect(run.status).toBe('cancelled');
    expect(run.jobs).toMatchObject([
      { status: 'cancelled', reason: 'the run was interrupted: its stdout could not be written (ENOSPC)' },
    ]);
  }, 60_000);
});
