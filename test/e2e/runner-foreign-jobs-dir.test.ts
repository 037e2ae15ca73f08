import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import {
  callApi,
  killAll,
  type StartedProcess,
  type StartedServer,
  startProcess,
  startServerForRunners,
} from './fleet-processes.js';

/**
 * A real `valkyrie runner` given a --work-dir that is someone's directory (`--work-dir ~`, `/srv`)
 * with a `jobs` folder in it. At start the runner removes what a killed runner left in
 * `<work-dir>/jobs`: it deleted that folder's contents. Now it is refused, untouched.
 */
const admin = 'vkt-e2e-admin-token-foreign-jobs-dir-01';
const ws = new Workspace();
const processes: StartedProcess[] = [];
let server: StartedServer;
let registration = '';

beforeAll(async () => {
  ({ server, registration } = await startServerForRunners(ws, admin, processes));
}, 30_000);

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

describe('valkyrie runner --work-dir with a jobs folder it did not make', () => {
  it('refuses it before registering, with one line and exit 2, and leaves the folder as it was', async () => {
    const home = join(ws.dir, 'home');
    mkdirSync(join(home, 'jobs', 'important'), { recursive: true });
    writeFileSync(join(home, 'jobs', 'important', 'file'), 'data');
    const runner = startProcess(ws, [
      'runner',
      '--server',
      server.url,
      '--token',
      registration,
      '--work-dir',
      home,
    ]);
    // In `processes`: one that started after all is killed in afterAll.
    processes.push(runner);
    const jobs = join(home, 'jobs');
    expect(await runner.done).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `valkyrie: --work-dir: ${jobs} holds "important", which no runner made there: a runner removes what is in its jobs directory, so give it a work dir of its own (or empty ${jobs})\n`,
    });
    expect(readFileSync(join(jobs, 'important', 'file'), 'utf8')).toBe('data');
    const listed = await callApi(server.url, admin, 'GET', '/api/v1/runners');
    expect(((await listed.json()) as { runners: unknown[] }).runners).toEqual([]);
  }, 30_000);
});
