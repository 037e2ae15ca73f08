import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, Workspace } from './cli.js';
import {
  callApi,
  killAll,
  type StartedProcess,
  type StartedServer,
  startProcess,
  startServerForRunners,
} from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * A real `valkyrie runner` on a work dir whose runner.json is there but cannot be used (damaged, a
 * directory). It said "there is no …/runner.json"; given a token, it registered a new runner over
 * the damaged file, and over a directory it registered one, then failed to store its credential with
 * a stack trace. Now: one line naming the file and why, exit 2, nothing registered, the file as it was.
 */
const admin = 'vkt-e2e-admin-token-credentials-file-0123';
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

async function registered(): Promise<number> {
  const response = await callApi(server.url, admin, 'GET', '/api/v1/runners');
  return ((await response.json()) as { runners: unknown[] }).runners.length;
}

/** `valkyrie runner ARGS` to its end; in `processes`, so that one that started after all is killed. */
function runner(args: readonly string[]): Promise<CliResult> {
  const started = startProcess(ws, ['runner', '--server', server.url, ...args]);
  processes.push(started);
  return started.done;
}

/** `valkyrie runner ARGS` until it connects (or ends), then SIGTERM, to its end. */
async function connectedThenStopped(args: readonly string[]): Promise<CliResult> {
  const started = startProcess(ws, ['runner', '--server', server.url, ...args]);
  processes.push(started);
  await waitFor(
    () => /connected to/.test(started.stdout()) || started.child.exitCode !== null,
    20_000,
    'connected',
  );
  started.child.kill('SIGTERM');
  return started.done;
}

describe('valkyrie runner with a runner.json it cannot use', () => {
  it('refuses a damaged one, with or without --token, and leaves it as it was', async () => {
    const workDir = join(ws.dir, 'damaged');
    mkdirSync(workDir);
    const file = join(workDir, 'runner.json');
    writeFileSync(file, '{"server": "http://127.0.0.1:7070", "runn');
    // The way back names the flag the runner was started with, else both.
    const line = (flags: string) =>
      `valkyrie: --work-dir: cannot use ${file} (it does not hold a runner credential: JSON with server, runnerId and credential); to register this runner again, delete it and start with ${flags}\n`;
    const base = ['--work-dir', workDir];
    expect(await runner(base)).toMatchObject({
      code: 2,
      stdout: '',
      stderr: line('--token-file FILE (or --token TOKEN)'),
    });
    expect(await runner([...base, '--token', registration])).toMatchObject({
      code: 2,
      stdout: '',
      stderr: line('--token'),
    });
    expect(readFileSync(file, 'utf8')).toBe('{"server": "http://127.0.0.1:7070", "runn');
    expect(await registered()).toBe(0);
  }, 30_000);

  it('refuses one that is a directory before it registers: one line, no stack trace', async () => {
    const workDir = join(ws.dir, 'directory');
    mkdirSync(join(workDir, 'runner.json'), { recursive: true });
    const result = await runner(['--work-dir', workDir, '--token', registration]);
    expect(result).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `valkyrie: --work-dir: cannot use ${join(workDir, 'runner.json')} (it is a directory); to register this runner again, delete it and start with --token\n`,
    });
    expect(await registered()).toBe(0);
  }, 30_000);
});

describe('valkyrie runner with a runner.json for another server', () => {
  it('says, when it registers with this one on a token, that the other runner is replaced and how to remove it', async () => {
    const workDir = join(ws.dir, 'other-server');
    mkdirSync(workDir);
    const file = join(workDir, 'runner.json');
    // Another spelling of a server (localhost for 127.0.0.1, https for http) is another server here.
    const other = {
      server: 'http://localhost:7070',
      runnerId: 'aaaaaaaaaaaa',
      credential: 'vkt.aaaaaaaaaaaa.x',
    };
    writeFileSync(file, JSON.stringify(other));
    const before = await registered();
    const result = await connectedThenStopped(['--work-dir', workDir, '--token', registration]);
    expect(result.code, result.stderr).toBe(0);
    expect(await registered()).toBe(before + 1);
    const id = (JSON.parse(readFileSync(file, 'utf8')) as { runnerId: string }).runnerId;
    expect(result.stderr).toBe(
      `valkyrie runner: ${file} held the credential of runner aaaaaaaaaaaa of http://localhost:7070, not of ${server.url}: ` +
        `registering with ${server.url} as ${id} replaced it, and that runner cannot connect again; ` +
        'take it off its list with valkyrie runners remove aaaaaaaaaaaa --server http://localhost:7070\n',
    );
  }, 30_000);
});

describe('valkyrie runner with a name in runner.json that the server no longer takes', () => {
  // Between runner.json keeping the name (b16f162d) and --name being checked at start (e3c312cb),
  // `--name " "` registered and was kept; the protocol's `register` took it until 43727bf7.
  it('says so and how to go on, before it connects, rather than being refused by the server', async () => {
    const workDir = join(ws.dir, 'blank-name');
    mkdirSync(workDir);
    const file = join(workDir, 'runner.json');
    const answer = await callApi(server.url, registration, 'POST', '/api/v1/runners/register', {});
    const { runnerId, credential } = (await answer.json()) as { runnerId: string; credential: string };
    writeFileSync(file, JSON.stringify({ server: server.url, runnerId, credential, name: '  ' }));
    expect(await runner(['--work-dir', workDir])).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        `valkyrie: --work-dir: ${file} keeps "  " as the name this runner registered under, which a runner ` +
        'name cannot be now (it is blank); start it with --name NAME\n',
    });
    // The way out it names.
    const named = await connectedThenStopped(['--work-dir', workDir, '--name', 'b']);
    expect(named.code, named.stderr).toBe(0);
  }, 30_000);
});
