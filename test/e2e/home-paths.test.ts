import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { within } from '../core/race-timeout.js';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startProcess, startServerForRunners } from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * A `~` that no shell expanded (a systemd unit, a quoted argument) made a directory literally named
 * `~` in the current one. Every path flag and path variable now puts it under $HOME, here a
 * directory of the test's own.
 */
const admin = 'vkt-e2e-home-paths-admin-0123456789';
const ws = new Workspace();
const home = mkdtempSync(join(tmpdir(), 'valkyrie-home-'));
const processes: StartedProcess[] = [];
const asUser = { HOME: home };
const workflow = ws.write(
  'ci.yml',
  'name: t\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n',
);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
  rmSync(home, { recursive: true, force: true });
});

describe('a path flag or variable that starts with ~', () => {
  it('is under $HOME for --state-dir and VALKYRIE_STATE_DIR', async () => {
    const byFlag = await ws.run(['run', workflow, '--json', '--state-dir', '~/by-flag'], asUser);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    const byVariable = await ws.run(['run', workflow, '--json'], {
      ...asUser,
      VALKYRIE_STATE_DIR: '~/by-env',
    });
    expect(byVariable.code, byVariable.stderr).toBe(0);
    expect(existsSync(join(home, 'by-flag', 'valkyrie.db'))).toBe(true);
    expect(existsSync(join(home, 'by-env', 'valkyrie.db'))).toBe(true);
    expect(existsSync(join(ws.dir, '~'))).toBe(false);
  });

  it('is under $HOME for --db, VALKYRIE_DB and --secrets-file', async () => {
    writeFileSync(join(home, 'secrets.env'), 'PASSWORD=hunter2\n');
    const flags = ['--db', '~/flag.db', '--secrets-file', '~/secrets.env'];
    const byFlag = await ws.run(['run', workflow, '--json', ...flags], asUser);
    expect(byFlag.code, byFlag.stderr).toBe(0);
    const byVariable = await ws.run(['run', workflow, '--json'], { ...asUser, VALKYRIE_DB: '~/env.db' });
    expect(byVariable.code, byVariable.stderr).toBe(0);
    expect(readdirSync(home)).toEqual(expect.arrayContaining(['flag.db', 'env.db']));
    expect(existsSync(join(ws.dir, '~'))).toBe(false);
  });

  it("is under $HOME for the server's --data-dir and --tls-cert", async () => {
    const missingCert = await ws.run(
      ['server', '--port', '0', '--tls-cert', '~/absent.pem', '--tls-key', '~/absent.key'],
      asUser,
    );
    expect(missingCert.code).toBe(2);
    expect(missingCert.stderr).toContain(`--tls-cert: cannot read ${join(home, 'absent.pem')}`);
    const server = startProcess(ws, ['server', '--port', '0', '--data-dir', '~/server'], {
      ...asUser,
      VALKYRIE_ADMIN_TOKEN: admin,
    });
    processes.push(server);
    await waitFor(
      () => server.stdout().includes('listening on'),
      20_000,
      () => server.stderr(),
    );
    expect(readdirSync(join(home, 'server'))).toContain('valkyrie.db');
    expect(existsSync(join(ws.dir, '~'))).toBe(false);
  });

  it("is under $HOME for the runner's --work-dir and --token-file", async () => {
    const { server, registration } = await startServerForRunners(ws, admin, processes);
    writeFileSync(join(home, 'token'), registration);
    const runner = startProcess(
      ws,
      ['runner', '--server', server.url, '--token-file', '~/token', '--work-dir', '~/runner'],
      asUser,
    );
    processes.push(runner);
    await waitFor(
      () => runner.stdout().includes(' connected to ') || runner.child.exitCode !== null,
      20_000,
      'the runner to connect',
    );
    expect(runner.stdout(), runner.stderr()).toContain(
      `credentials in ${join(home, 'runner', 'runner.json')}`,
    );
    expect(existsSync(join(ws.dir, '~'))).toBe(false);
  });

  it('is refused in one line, exit 2, as ~user/…, and nothing is made', async () => {
    // A runner that took the path would wait for a server at 7070: within a time, and killed after.
    const runner = startProcess(
      ws,
      ['runner', '--server', 'http://127.0.0.1:7070', '--token', 't', '--work-dir', '~nobody/runner'],
      asUser,
    );
    processes.push(runner);
    const result = await within(runner.done, 10_000, 'the runner to exit');
    expect(result).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'valkyrie: --work-dir: only ~ and ~/… are expanded to the home directory, received "~nobody/runner"; ' +
        'give the full path (./~name for a name that starts with ~)\n',
    });
    expect(existsSync(join(ws.dir, '~nobody'))).toBe(false);
  });
});
