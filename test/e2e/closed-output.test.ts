import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { collect, valkyrieBin, Workspace, waitForJobStatus } from './cli.js';

const exec = promisify(execFile);

/**
 * A command that only shows something, whose stdout or stderr is a pipe its reader closed (`| true`
 * exits before Valkyrie writes; `| head -1` after the first line): it exits 141, as git and gh do,
 * unless it failed, whose code wins; never 0, never a stack trace.
 */
describe('a read command whose output was closed', () => {
  const ws = new Workspace();
  const vk = (args: string) => `${[process.execPath, valkyrieBin].map(shellWord).join(' ')} ${args}`;
  const shell = async (pipeline: string) => {
    const { stdout, stderr } = await exec('bash', ['-c', `${pipeline}; echo "rc=\${PIPESTATUS[0]}"`], {
      cwd: ws.dir,
      env: { ...process.env, NO_COLOR: '1' },
    });
    return { rc: stdout.trim().split('\n').at(-1), stderr };
  };

  beforeAll(async () => {
    ws.write('ok.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "true" }]\n');
    ws.write('bad.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ bogus: 1 }]\n');
    for (let i = 0; i < 3; i++) await exec('bash', ['-c', vk('run ok.yml --state-dir st')], { cwd: ws.dir });
  }, 60_000);
  afterAll(() => ws.dispose());

  it('exits 141, not 0, when what it had to show was lost', async () => {
    expect(await shell(`${vk('runs --state-dir st')} | true`)).toEqual({ rc: 'rc=141', stderr: '' });
    expect(await shell(`${vk('show 1 --state-dir st')} | true`)).toEqual({ rc: 'rc=141', stderr: '' });
  }, 30_000);

  it("exits with its own code when it failed, the failure's line lost or not", async () => {
    expect(await shell(`${vk('validate bad.yml')} 2>&1 | true`)).toEqual({ rc: 'rc=2', stderr: '' });
    expect(await shell(`${vk('validate bad.yml')} 2>&1 | head -1 >/dev/null`)).toEqual({
      rc: 'rc=2',
      stderr: '',
    });
    expect(await shell(`${vk('show 99 --state-dir st')} 2>&1 | true`)).toEqual({ rc: 'rc=2', stderr: '' });
  }, 30_000);

  it('stops following with logs -f, 141, and leaves the run going', async () => {
    const go = join(ws.dir, 'go');
    ws.write(
      'ticking.yml',
      `jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: while [ ! -f ${go} ]; do echo tick; sleep 0.1; done\n`,
    );
    const run = collect(ws.start(['run', 'ticking.yml', '--state-dir', 'follow']));
    try {
      await waitForJobStatus(ws, '1', 'a', 'running', ['--state-dir', 'follow']);
      const started = Date.now();
      expect(await shell(`${vk('logs 1 -f --state-dir follow')} | head -1 >/dev/null`)).toEqual({
        rc: 'rc=141',
        stderr: '',
      });
      expect(Date.now() - started).toBeLessThan(10_000);
      const runs = await exec('bash', ['-c', vk('runs --state-dir follow --json')], { cwd: ws.dir });
      expect(JSON.parse(runs.stdout)).toMatchObject([{ status: 'running' }]);
    } finally {
      // Ends the run however the test went.
      writeFileSync(go, '');
    }
    expect((await run).code).toBe(0);
  }, 60_000);

  it('exits 141 from logs of a log longer than the pipe holds, not hanging on a drain that never comes', async () => {
    ws.write('long.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: "seq 1 100000" }]\n');
    await exec('bash', ['-c', vk('run long.yml --state-dir long')], { cwd: ws.dir });
    expect(await shell(`${vk('logs 1 --state-dir long')} | head -1 >/dev/null`)).toEqual({
      rc: 'rc=141',
      stderr: '',
    });
  }, 60_000);

  it('exits 141 when its last write was still waiting for the pipe as it ended, and the reader left', async () => {
    // The schema is more than a pipe holds (64 KiB): its end waits in the stream when the command
    // returns, and the reader exits without reading, so that write finds it gone only afterwards.
    const { stdout } = await exec('bash', ['-c', `${vk('schema')} | wc -c`], { cwd: ws.dir });
    expect(Number(stdout.trim())).toBeGreaterThan(65_536);
    expect(await shell(`${vk('schema')} | (sleep 1; exit 0)`)).toEqual({ rc: 'rc=141', stderr: '' });
  }, 30_000);

  it('exits 0 when the reader took all there was', async () => {
    expect(await shell(`${vk('runs --state-dir st')} | cat >/dev/null`)).toEqual({ rc: 'rc=0', stderr: '' });
  }, 30_000);
});
