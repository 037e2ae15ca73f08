import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ShellExecutor } from '../../src/executors/shell/index.js';
import { runnerDecoder } from '../../src/protocol/frame.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { connectWebSocket } from '../../src/protocol/websocket/connector.js';
import { RunnerAgent } from '../../src/runner/agent.js';
import { describeHost } from '../../src/runner/host.js';
import { inheritedEnvironment } from '../../src/runner/step-environment.js';
import { type CliResult, collect, Workspace } from './cli.js';
import { startServer } from './fleet-processes.js';

const workflow = `name: fleet
jobs:
  build:
    runs-on: linux
    outputs:
      artifact: \${{ steps.make.outputs.name }}
    steps:
      - id: make
        run: echo "name=app-1.0" >> "$GITHUB_OUTPUT"; echo building on the fleet
  test:
    runs-on: linux
    needs: build
    steps:
      - run: echo "testing \${{ needs.build.outputs.artifact }}"
`;

const workspaces: Workspace[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const workspace of workspaces.splice(0)) workspace.dispose();
});

/** `valkyrie ARGS`, killed after `ms` unless it ended: a regression that serves or hangs fails the test, not the run. */
async function runAtMost(workspace: Workspace, args: readonly string[], ms: number): Promise<CliResult> {
  const child = workspace.start(args);
  children.push(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  return collect(child).finally(() => clearTimeout(timer));
}

describe('valkyrie server', () => {
  it('runs a submitted workflow on a runner connected over WebSocket, with tokens made by the CLI', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const server = await startServer(workspace);
    children.push(server.child);
    const admin = server.stderr().trim().split('\n').at(-1) ?? '';
    expect(admin).toMatch(/^vkt\./);
    const cli = async (...args: string[]) => {
      const result = await workspace.run(['token', ...args], {
        VALKYRIE_SERVER: server.url,
        VALKYRIE_TOKEN: admin,
      });
      expect(result.stderr.includes('    at ')).toBe(false);
      return result;
    };
    const token = async (role: string) => {
      const result = await cli('create', '--role', role);
      expect(result.code).toBe(0);
      return result.stdout.trim();
    };
    const [submit, read, registration] = [await token('submit'), await token('read'), await token('runner')];
    const api = (method: string, path: string, bearer: string, body?: unknown) =>
      fetch(`${server.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });

    // A bad token registers nothing; a read token cannot submit.
    const tokensBefore = (await cli('list', '--json')).stdout;
    expect((await api('POST', '/api/v1/runners/register', 'vkt.0.bad', {})).status).toBe(401);
    expect((await cli('list', '--json')).stdout).toBe(tokensBefore);
    const refused = await api('POST', '/api/v1/runs', read, { workflow });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'VK_FORBIDDEN' });

    const registered = await api('POST', '/api/v1/runners/register', registration, { name: 'e2e' });
    expect(registered.status).toBe(201);
    const { credential } = (await registered.json()) as { credential: string };
    const connected = await connectWebSocket<RunnerMessage, ControlMessage>({
      url: `${server.url.replace('http', 'ws')}/api/v1/runner/ws`,
      decoder: runnerDecoder,
      headers: { authorization: `Bearer ${credential}` },
    });
    if (connected.kind !== 'connected') throw new Error(connected.reason);
    const tempRoot = join(workspace.dir, 'runner');
    mkdirSync(tempRoot);
    const agent = new RunnerAgent(connected.transport, {
      info: { name: 'e2e', labels: ['linux'], capacity: 2 },
      host: describeHost(),
      createExecutor: () => new ShellExecutor(),
      tempRoot,
      baseEnv: inheritedEnvironment(process.env),
    });
    agent.start();

    const created = await api('POST', '/api/v1/runs', submit, { workflow, path: 'fleet.yml' });
    expect(created.status).toBe(201);
    const { run } = (await created.json()) as { run: { id: string } };
    const events = await (await api('GET', `/api/v1/runs/${run.id}/events`, read)).text();
    const last = events.trim().split('\n\n').at(-1) ?? '';
    const data = last.split('\n').find((line) => line.startsWith('data: '));
    expect(JSON.parse(data?.slice('data: '.length) ?? '{}')).toMatchObject({
      type: 'run.completed',
      status: 'succeeded',
      jobs: [
        { name: 'build', status: 'succeeded' },
        { name: 'test', status: 'succeeded' },
      ],
    });
    const view = (await (await api('GET', `/api/v1/runs/${run.id}`, read)).json()) as {
      run: { status: string; jobs: { id: string; key: string }[] };
    };
    expect(view.run.status).toBe('succeeded');
    const testJob = view.run.jobs.find((job) => job.key === 'test');
    const log = await (await api('GET', `/api/v1/runs/${run.id}/logs?job=${testJob?.id}`, read)).text();
    expect(log).toContain('testing app-1.0');

    connected.transport.close('done');
    await agent.drain();
    server.child.kill('SIGTERM');
    const exit = await server.done;
    expect(exit.code).toBe(0);
    expect(exit.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('exits 2 with one line, no stack, when the port is taken, and leaves no state behind', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const first = await startServer(workspace);
    children.push(first.child);
    const port = new URL(first.url).port;
    const taken = await workspace.run(['server', '--port', port, '--data-dir', 'other']);
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain('is already in use');
    expect(taken.stderr.trim().split('\n')).toHaveLength(1);
    // …and leaves no state behind: neither the data directory it made nor, in one that was there, a file.
    expect(existsSync(join(workspace.dir, 'other'))).toBe(false);
    mkdirSync(join(workspace.dir, 'mine'));
    const takenToo = await workspace.run(['server', '--port', port, '--data-dir', 'mine']);
    expect(takenToo.code).toBe(2);
    expect(readdirSync(join(workspace.dir, 'mine'))).toEqual([]);
    // A --db in folders that were not there: the folders go too, not only the file.
    const dbTaken = await workspace.run([
      'server',
      '--port',
      port,
      '--db',
      'deep/er/v.db',
      '--data-dir',
      'mine',
    ]);
    expect(dbTaken.code).toBe(2);
    expect(existsSync(join(workspace.dir, 'deep'))).toBe(false);
    // The failed first start on `other` showed no admin token and kept none: the next start there is a
    // first start, which makes one and shows it.
    const again = await startServer(workspace, ['--data-dir', 'other']);
    children.push(again.child);
    expect(again.stderr()).toContain('Created the first admin token');
    const admin = again.stderr().trim().split('\n').at(-1) ?? '';
    const listed = await fetch(`${again.url}/api/v1/tokens`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(listed.status).toBe(200);
    const tokens = ((await listed.json()) as { tokens: { role: string; revokedAt?: number }[] }).tokens;
    expect(
      tokens.filter((token) => token.role === 'admin').map((token) => token.revokedAt !== undefined),
    ).toEqual([false]);
    again.child.kill('SIGTERM');
    expect((await again.done).code).toBe(0);
    first.child.kill('SIGTERM');
    expect((await first.done).code).toBe(0);
  });

  // Each refusal is a process of its own: apart from the port-taken starts, so that a loaded machine's
  // slower starts do not add up past one test's time.
  it('exits 2 with one line when the TLS files are bad', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const cert = workspace.write('cert.pem', 'not a certificate');
    const tls = await workspace.run(['server', '--port', '0', '--tls-cert', cert, '--tls-key', cert]);
    expect(tls.code).toBe(2);
    expect(tls.stderr).toBe(`valkyrie: --tls-cert: ${cert} holds no PEM certificate\n`);
    const missing = await workspace.run(['server', '--tls-cert', 'nope.pem', '--tls-key', cert]);
    expect(missing).toMatchObject({
      code: 2,
      stderr: 'valkyrie: --tls-cert: cannot read nope.pem: no such file\n',
    });
    const directory = await workspace.run(['server', '--tls-cert', cert, '--tls-key', workspace.dir]);
    expect(directory).toMatchObject({
      code: 2,
      stderr: `valkyrie: --tls-key: cannot read ${workspace.dir}: it is a directory\n`,
    });
  });

  it('exits 2 with one line naming the flag for a bad flag value', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    // Each: the flags after `server`, and the one line it exits 2 with.
    const refusals: [readonly string[], string][] = [
      // A retention shorter than a replica's missed heartbeats would forget runners still there.
      [['--runner-retention', '10s'], '--runner-retention: expected at least 1m, received "10s"'],
      // A bundle's retention is written in days as often as not; a minute is the least it takes.
      [['--bundle-retention', '30s'], '--bundle-retention: expected at least 1m, received "30s"'],
      [
        ['--bundle-retention', 'a week'],
        '--bundle-retention: expected a duration such as 7d, 12h or 30m, received "a week"',
      ],
      // No runner or client could reach it: fetch refuses such a port without trying.
      [
        ['--port', '6000'],
        '--port: 6000 is a port that fetch, which runners and clients use, never connects to (a blocked port); choose another',
      ],
      // An offer that expires before the runner's accept returns would be made again and again.
      [['--offer-ttl', '1ms'], '--offer-ttl: expected at least 1s, received "1ms"'],
      // A lease that expires before the runner's renewal (every third of it) arrives: every job requeued.
      [['--lease-ttl', '1ms'], '--lease-ttl: expected at least 1s, received "1ms"'],
      // A duration too short is told so, not that it is no duration.
      [['--lease-ttl', '0s'], '--lease-ttl: expected at least 1s, received "0s"'],
      [
        ['--drain-timeout', 'soon'],
        '--drain-timeout: expected a duration such as 250ms, 10s or 1m, received "soon"',
      ],
      // A client on a congested link, or paused by its OS for a moment, would lose its upload.
      [['--body-timeout', '500ms'], '--body-timeout: expected at least 1s, received "500ms"'],
      [['--queue-capacity', '0'], '--queue-capacity must be a positive integer, received "0"'],
      [['--max-takeovers', '0'], '--max-takeovers must be a positive integer, received "0"'],
    ];
    for (const [flags, line] of refusals)
      expect(await workspace.run(['server', '--port', '0', ...flags])).toMatchObject({
        code: 2,
        stderr: `valkyrie: ${line}\n`,
      });
  });

  it('exits 2 with one line when --data-dir is under a file, not a stack trace from removing what it made', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const file = workspace.write('a-file', '');
    expect(await workspace.run(['server', '--port', '0', '--data-dir', join(file, 'data')])).toEqual({
      code: 2,
      signal: null,
      stdout: '',
      stderr: `valkyrie: could not open the state database ${file}/data/valkyrie.db: ENOTDIR: not a directory, mkdir '${file}/data'\n`,
    });
  });

  // OpenSSL's own words were the message: 'PEM routines::no start line', 'key values mismatch'.
  it('says which TLS file is wrong: swapped files, a file that holds neither, a key of another certificate', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const tls = join(import.meta.dirname, '../fixtures/tls');
    const cert = join(tls, 'cert.pem');
    const key = join(tls, 'key.pem');
    const otherKey = join(tls, 'expired-key.pem');
    const refusal = async (certPath: string, keyPath: string) =>
      (await workspace.run(['server', '--port', '0', '--tls-cert', certPath, '--tls-key', keyPath])).stderr;
    expect(await refusal(key, cert)).toBe(
      `valkyrie: --tls-cert: ${key} holds a private key, not a certificate: are --tls-cert and --tls-key swapped?\n`,
    );
    const text = workspace.write('notes.txt', 'not PEM at all');
    expect(await refusal(text, key)).toBe(`valkyrie: --tls-cert: ${text} holds no PEM certificate\n`);
    expect(await refusal(cert, text)).toBe(`valkyrie: --tls-key: ${text} holds no PEM private key\n`);
    expect(await refusal(cert, otherKey)).toBe(
      `valkyrie: --tls-key: the key in ${otherKey} is not the key of the certificate in ${cert}\n`,
    );
  });

  it('warns at start when its TLS certificate has expired, which every runner and client refuses', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const tls = join(import.meta.dirname, '../fixtures/tls');
    const cert = join(tls, 'expired-cert.pem');
    const server = await startServer(workspace, [
      '--tls-cert',
      cert,
      '--tls-key',
      join(tls, 'expired-key.pem'),
    ]);
    children.push(server.child);
    expect(server.stderr()).toContain(
      `valkyrie server: warning: the certificate in --tls-cert ${cert} expired on 2020-01-02T00:00:00Z: ` +
        'runners and client commands refuse it until it is renewed\n',
    );
  });

  it('exits 2 with one line naming a --db that is a directory, rather than SQLite\'s "unable to open database file"', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    mkdirSync(join(workspace.dir, 'state'));
    const state = join(workspace.dir, 'state');
    const result = await workspace.run(['server', '--port', '0', '--db', 'state']);
    expect(result).toEqual({
      code: 2,
      signal: null,
      stdout: '',
      stderr: `valkyrie: --db: ${state} is a directory, but --db takes the SQLite database file itself: give a file, such as --db ${join(state, 'valkyrie.db')}, or leave --db out and give --data-dir ${state} to keep valkyrie.db there\n`,
    });
    // The variable is named as such, and `valkyrie run` names its own directory flag.
    workspace.write('ci.yml', 'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo a }]\n');
    const run = await workspace.run(['run', 'ci.yml'], { VALKYRIE_DB: 'state' });
    expect(run.stderr).toBe(
      `valkyrie: VALKYRIE_DB: ${state} is a directory, but VALKYRIE_DB takes the SQLite database file itself: give a file, such as VALKYRIE_DB=${join(state, 'valkyrie.db')}, or leave VALKYRIE_DB out and give --state-dir ${state} to keep valkyrie.db there\n`,
    );
    expect(run.code).toBe(2);
  });

  // run said EEXIST from mkdir; the server started, warning of its lock, with nowhere for bundles.
  it('exits 2 with one line naming a --data-dir or --state-dir that is a file', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const file = workspace.write(
      'ci.yml',
      'jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{ run: echo a }]\n',
    );
    const server = await runAtMost(
      workspace,
      ['server', '--port', '0', '--db', 'own.db', '--data-dir', 'ci.yml'],
      5_000,
    );
    expect(server).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `valkyrie: --data-dir: ${file} is a file, not a directory\n`,
    });
    const run = await workspace.run(['run', 'ci.yml'], { VALKYRIE_STATE_DIR: 'ci.yml' });
    expect(run.stderr).toBe(`valkyrie: VALKYRIE_STATE_DIR: ${file} is a file, not a directory\n`);
    expect(run.code).toBe(2);
  });

  it('refuses an empty --host (an unset variable in a unit file) rather than listen on every interface', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    for (const host of ['', ' ']) {
      // Before the check, "" listened on [::]: stopped here rather than waited for.
      const result = await runAtMost(
        workspace,
        ['server', '--host', host, '--port', '0', '--data-dir', 'data'],
        5_000,
      );
      expect(result).toEqual({
        code: 2,
        signal: null,
        stdout: '',
        stderr: `valkyrie: --host: expected an address to listen on, such as 127.0.0.1, or 0.0.0.0 for every interface, received ${JSON.stringify(host)}\n`,
      });
      expect(existsSync(join(workspace.dir, 'data'))).toBe(false);
    }
  });

  it.skipIf(process.platform !== 'linux')(
    'exits 2 at once with one line when --data-dir is under /proc, where the directory cannot be made',
    async () => {
      const workspace = new Workspace();
      workspaces.push(workspace);
      // Node's recursive mkdir looped for ever there: a regression must fail here, not hang the run.
      const result = await runAtMost(
        workspace,
        ['server', '--port', '0', '--data-dir', '/proc/valkyrie-test'],
        15_000,
      );
      expect(result).toEqual({
        code: 2,
        signal: null,
        stdout: '',
        stderr:
          'valkyrie: could not open the state database /proc/valkyrie-test/valkyrie.db: cannot create the directory /proc/valkyrie-test: /proc does not allow new directories: mkdir answered ENOENT though it exists, as a kernel file system such as /proc does\n',
      });
    },
  );

  it('exits 2 with one line naming VALKYRIE_ADMIN_TOKEN when no request could log in with it', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const start = (token: string) =>
      workspace.run(['server', '--port', '0'], { VALKYRIE_ADMIN_TOKEN: token });
    expect(await start('vkj.my-admin-secret')).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'valkyrie: VALKYRIE_ADMIN_TOKEN starts with "vkj.", the form of a job token: a request presenting it is checked as a job token and never logs in; choose another text\n',
    });
    expect(await start('my admin secret')).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'valkyrie: VALKYRIE_ADMIN_TOKEN has a space or other white space at character 3: a token must be one word of visible ASCII characters (! to ~), as it is sent in "Authorization: Bearer <token>"\n',
    });
    expect(await start('x')).toMatchObject({
      code: 2,
      stdout: '',
      stderr:
        'valkyrie: VALKYRIE_ADMIN_TOKEN is 1 character long: an admin token needs at least 16, so that it cannot be guessed (openssl rand -hex 32 makes one)\n',
    });
    // One short of the least is refused as well; 16 (test/server/helpers.ts's) starts.
    expect(await start('fifteen-chars-x')).toMatchObject({ code: 2 });
    // Refused before the store is opened: no state file is left behind.
    expect(existsSync(join(workspace.dir, '.valkyrie'))).toBe(false);
  });

  it('token revoke warns when it revokes the last active admin token, and says how to get one back', async () => {
    const workspace = new Workspace();
    workspaces.push(workspace);
    const admin = 'revoke-last-admin-token';
    const server = await startServer(workspace, [], { VALKYRIE_ADMIN_TOKEN: admin });
    children.push(server.child);
    const cli = (args: string[], token = admin) =>
      workspace.run(args, { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: token });
    const second = (await cli(['token', 'create', '--role', 'admin'])).stdout.trim();
    // Another admin token is active: no warning. The token the command used is gone: it says so, also
    // of VALKYRIE_ADMIN_TOKEN's, whose id (admin-env) its text does not hold.
    expect(await cli(['token', 'revoke', 'admin-env'])).toMatchObject({
      code: 0,
      stdout: 'Revoked token admin-env, the token this command used: it no longer works.\n',
      stderr: '',
    });
    expect((await cli(['runs'])).code).toBe(77);
    // Given whole, a token is revoked by its id, and its secret is not printed.
    const third = (await cli(['token', 'create', '--role', 'read'], second)).stdout.trim();
    const byWhole = await cli(['token', 'revoke', third], second);
    expect(byWhole).toMatchObject({ code: 0, stdout: `Revoked token ${third.split('.')[1]}.\n`, stderr: '' });
    // Again: nothing to revoke, and it says so rather than "Revoked" once more.
    expect(await cli(['token', 'revoke', third], second)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(
        new RegExp(
          `^Token ${third.split('.')[1]} was already revoked \\(\\d{4}-\\d\\d-\\d\\dT[\\d:]+Z\\); nothing changed\\.\\n$`,
        ),
      ),
      stderr: '',
    });
    expect((await cli(['runs'], third)).code).toBe(77);
    const secondId = second.split('.')[1] ?? '';
    const last = await cli(['token', 'revoke', secondId], second);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toBe(`Revoked token ${secondId}, the token this command used: it no longer works.\n`);
    expect(last.stderr).toBe(
      'valkyrie: warning: that was the last active admin token: no one can create or revoke tokens until the server restarts, which makes one from VALKYRIE_ADMIN_TOKEN or, without it, generates one and prints it\n',
    );
    server.child.kill('SIGTERM');
    expect((await server.done).code).toBe(0);
  });

  it('drains on a SIGTERM sent the moment it says it is listening', async () => {
    // The harshest supervisor: the signal arrives within the write of the line itself (a preload makes
    // the process send it to itself there). Before the line, the server's listeners must be in, or
    // the default action kills it undrained (as a test once saw on a loaded machine).
    const workspace = new Workspace();
    workspaces.push(workspace);
    const preload = workspace.write(
      'sigterm-on-listening.mjs',
      `const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const written = write(chunk, ...rest);
  if (String(chunk).includes('listening on')) process.kill(process.pid, 'SIGTERM');
  return written;
};
`,
    );
    // A bare number is seconds: the drain's line says it with its unit, not "for up to 90".
    const flags = ['--port', '0', '--data-dir', '.valkyrie/server', '--drain-timeout', '90'];
    const exit = await workspace.run(['server', ...flags], {
      NODE_OPTIONS: `--import ${pathToFileURL(preload).href}`,
      VALKYRIE_ADMIN_TOKEN: 'vkt-e2e-sigterm-at-ready-0123456789',
    });
    expect(exit).toMatchObject({ signal: null, code: 0 });
    expect(exit.stdout).toMatch(/^valkyrie server listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    expect(exit.stderr).toContain('SIGTERM: shutting down; draining for up to 1.5m');
  });
});
