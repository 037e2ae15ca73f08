import { type ChildProcess, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { startSilentServer } from '../core/silent-server.js';
import {
  type Fleet,
  lines,
  registrationRoute,
  runRequest as request,
  sideEffectWorkflow,
  startFleet,
  until,
} from '../runner/fleet-harness.js';
import { collect, Workspace } from './cli.js';

function output(child: ChildProcess): { stdout: () => string } {
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  return { stdout: () => stdout };
}

describe('valkyrie runner', () => {
  const ws = new Workspace();
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Starts the CLI; a runner that a failed assertion left running is killed after the test. */
  function start(args: readonly string[], env?: Record<string, string>): ChildProcess {
    const child = ws.start(args, env);
    return child;
  }

  async function fleet(): Promise<Fleet> {
    const started = await startFleet({ leaseTtlMs: 5_000 }, registrationRoute);
    cleanups.push(() => started.close());
    return started;
  }

  it('refuses bad arguments with exit 2 and one clear line', async () => {
    const file = ws.write('a-file', 'not a folder\n');
    const cases: [string[], RegExp][] = [
      [['runner'], /--server \(or VALKYRIE_SERVER\) is required/],
      [
        ['runner', '--server', 'ftp://host'],
        /--server must be an http:\/\/ or https:\/\/ URL, received "ftp:\/\/host"/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--capacity', 'two'],
        /--capacity must be .* received "two"/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--protocol', 'udp'],
        /--protocol must be auto, ws or http/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--work-dir', join(ws.dir, 'none')],
        // Both ways to give it: the README starts runners with --token-file.
        /a registration token is needed to register this runner: .*; start it with --token-file FILE or --token TOKEN/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--token-file', join(ws.dir, 'no-such-token')],
        /^valkyrie: --token-file: cannot read .*no-such-token: no such file\n$/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--token-file', ws.dir],
        /^valkyrie: --token-file: cannot read .*: it is a directory\n$/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--token-file', file],
        /--token-file: .*a-file must hold one token on one line/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--token', 't', '--token-file', file],
        /--token and --token-file: give one of them, not both/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--token', 't', '--work-dir', join(file, 'sub')],
        /^valkyrie: --work-dir: cannot create .*a-file\/sub \(a part of the path is a file\)\n$/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--token', 't', '--work-dir', ''],
        /^valkyrie: --work-dir must name a directory, received "" \(for the current one, give \.\)\n$/,
      ],
      [
        ['runner', '--server', 'http://127.0.0.1:2', '--token', 't', '--labels', 'gpu', '--labels', ''],
        /^valkyrie: --labels: an empty label \(.*\), received ""\n$/,
      ],
      [
        [
          'runner',
          '--server',
          'http://127.0.0.1:2',
          '--token',
          't',
          '--labels',
          Array(200)
            .fill('l')
            .map((l, i) => `${l}${i}`)
            .join(','),
        ],
        /^valkyrie: --labels: a runner has at most 200 labels, the \d+ it is given \(.*\) included; received 200\n$/,
      ],
    ];
    // All at once: ten CLI starts one after another took most of the test's 30 s on a loaded machine.
    const results = await Promise.all(
      cases.map(([args]) => ws.run(args, { VALKYRIE_SERVER: '', VALKYRIE_TOKEN: '' })),
    );
    for (const [i, [args, message]] of cases.entries()) {
      const result = results[i];
      expect(result?.code, args.join(' ')).toBe(2);
      expect(result?.stderr).toMatch(message);
      expect(result?.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(join(ws.dir, 'none'))).toBe(false);
  });

  it.skipIf(process.platform !== 'linux')(
    'exits 2 at once with one line when --work-dir is under /proc, where the directory cannot be made',
    async () => {
      // Node's recursive mkdir looped for ever there: a regression must fail here, not hang the run.
      const child = ws.start([
        'runner',
        '--server',
        'http://127.0.0.1:2',
        '--token',
        't',
        '--work-dir',
        '/proc/valkyrie-test',
      ]);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await collect(child).finally(() => clearTimeout(timer));
      expect(result).toMatchObject({
        code: 2,
        stderr:
          'valkyrie: --work-dir: cannot create /proc/valkyrie-test (/proc does not allow new directories: mkdir answered ENOENT though it exists, as a kernel file system such as /proc does)\n',
      });
    },
  );

  it('exits 2 when the server refuses the registration token, names where it came from, and stores nothing', async () => {
    const { url } = await fleet();
    const workDir = join(ws.dir, 'refused');
    const result = await ws.run(['runner', '--work-dir', workDir], {
      VALKYRIE_SERVER: url,
      VALKYRIE_TOKEN: 'nope',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /refused to register this runner \(401 VK_UNAUTHENTICATED\): unknown registration token/,
    );
    // Given by no flag: an admin token exported for the client commands is the usual cause. And
    // what to do, as the line of a refused credential says it (GitLab: "check registration token").
    expect(result.stderr).toMatch(
      /; the token came from VALKYRIE_TOKEN \(no --token or --token-file was given\)\. Start it with a registration token, made by valkyrie token create --role runner\.\n$/,
    );
    expect(existsSync(join(workDir, 'runner.json'))).toBe(false);
  });

  it('at an address without the registration route (404), asks whether it is the server, not about the token', async () => {
    const { url } = await fleet();
    const tokenFile = ws.write('registration-token', 'some-token\n');
    const result = await ws.run([
      'runner',
      '--server',
      `${url}/foo`,
      '--token-file',
      tokenFile,
      '--work-dir',
      join(ws.dir, 'wrong-address'),
    ]);
    expect(result.code).toBe(2);
    // This harness's server answers an unknown route as a proxy would: 404 with no body.
    expect(result.stderr).toMatch(/^valkyrie runner: the server refused to register this runner \(404 /);
    expect(result.stderr).toContain(
      `; is ${url}/foo the server's address? Give --server (or VALKYRIE_SERVER) the one its "valkyrie server listening on" line shows\n`,
    );
    expect(result.stderr).not.toContain('token');
  });

  // It left the work dir it made, with jobs/ and its marker, as if a runner used it.
  it('refused at registration, leaves the work dir as it found it: removes what it made, keeps what was there', async () => {
    const { url } = await fleet();
    const env = { VALKYRIE_SERVER: url, VALKYRIE_TOKEN: 'nope' };
    const made = join(ws.dir, 'never-registered');
    const fresh = await ws.run(['runner', '--work-dir', join(made, 'deep', 'work')], env);
    expect(fresh.code, fresh.stderr).toBe(2);
    expect(existsSync(made)).toBe(false);

    const found = join(ws.dir, 'found');
    mkdirSync(join(found, 'jobs'), { recursive: true });
    writeFileSync(join(found, 'notes.txt'), 'mine');
    const refused = await ws.run(['runner', '--work-dir', found], env);
    expect(refused.code, refused.stderr).toBe(2);
    expect(readdirSync(found).sort()).toEqual(['jobs', 'notes.txt']);
    expect(readdirSync(join(found, 'jobs'))).toEqual([]);
    expect(readFileSync(join(found, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('registers with the token of --token-file, which never shows in its command line', async () => {
    const { url } = await fleet();
    const workDir = join(ws.dir, 'from-file');
    const refused = await ws.run(
      ['runner', '--work-dir', workDir, '--token-file', ws.write('bad-token', 'nope\n')],
      {
        VALKYRIE_SERVER: url,
        VALKYRIE_TOKEN: 'reg-ok',
      },
    );
    // The file's token is the one sent, not VALKYRIE_TOKEN's.
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/unknown registration token/);
    const runner = start([
      'runner',
      '--server',
      url,
      '--work-dir',
      workDir,
      '--token-file',
      ws.write('token', 'reg-ok\n'),
    ]);
    const stopped = collect(runner);
    await until(() => existsSync(join(workDir, 'runner.json')), 'the runner to register');
    runner.kill('SIGTERM');
    expect((await stopped).code).toBe(0);
  });

  it('says so while the server cannot be reached, keeps retrying, and stops on SIGTERM or SIGINT, saying so', async () => {
    const { url } = await fleet();
    const closedPort = url.replace(/:\d+$/, ':2');
    const workDir = join(ws.dir, 'unreachable');
    const registering = start(['runner', '--server', closedPort, '--token', 'reg-ok', '--work-dir', workDir]);
    const registeringOut = output(registering);
    const registered = collect(registering);
    const unreachable =
      /^valkyrie runner: http:\/\/127\.0\.0\.1:2 unreachable for \S+ \(last error: registration: .+\); retrying in \S+\n/;
    await until(() => unreachable.test(registeringOut.stdout()), 'the retry notice');
    registering.kill('SIGTERM');
    // Said, as a drain is: its output ended on a retry line, as if it were still trying.
    const stoppedRegistering = await registered;
    expect(stoppedRegistering).toMatchObject({ code: 0, stderr: '' });
    expect(stoppedRegistering.stdout).toMatch(unreachable);
    expect(stoppedRegistering.stdout).toMatch(
      /\nvalkyrie runner: stopped \(SIGTERM while connecting to http:\/\/127\.0\.0\.1:2\)\n$/,
    );

    mkdirSync(join(workDir), { recursive: true });
    writeFileSync(
      join(workDir, 'runner.json'),
      JSON.stringify({ server: closedPort, runnerId: 'rnr_cli', credential: 'rnr_cli' }),
    );
    const connecting = start(['runner', '--server', closedPort, '--work-dir', workDir]);
    const connectingOut = output(connecting);
    const connected = collect(connecting);
    const unreachableConnecting =
      /^valkyrie runner: http:\/\/127\.0\.0\.1:2 unreachable for \S+ \(last error: websocket: .+; long-poll: .+\); retrying in \S+\n/;
    await until(() => unreachableConnecting.test(connectingOut.stdout()), 'the connect notice');
    connecting.kill('SIGINT');
    const stoppedConnecting = await connected;
    expect(stoppedConnecting).toMatchObject({ code: 0, stderr: '' });
    expect(stoppedConnecting.stdout).toMatch(
      /\nvalkyrie runner: stopped \(SIGINT while connecting to http:\/\/127\.0\.0\.1:2\)\n$/,
    );
  });

  it('says it waits for a server that took the registration request and does not answer; stops on SIGTERM', async () => {
    const silent = await startSilentServer();
    const { url } = silent;
    try {
      const workDir = join(ws.dir, 'silent');
      const registering = start(['runner', '--server', url, '--token', 'reg-ok', '--work-dir', workDir]);
      const { stdout } = output(registering);
      const registered = collect(registering);
      await until(
        () => stdout().includes(`waiting for ${url} to answer the registration request`),
        'the registration notice',
      );
      registering.kill('SIGTERM');
      expect((await registered).code).toBe(0);
      expect(existsSync(join(workDir, 'runner.json'))).toBe(false);
    } finally {
      silent.close();
    }
  });

  it('exits 2 when the server refuses the stored credential', async () => {
    const { url } = await fleet();
    const workDir = join(ws.dir, 'revoked');
    mkdirSync(workDir);
    writeFileSync(
      join(workDir, 'runner.json'),
      JSON.stringify({ server: url, runnerId: 'x', credential: 'revoked' }),
    );
    const result = await ws.run(['runner', '--server', url, '--work-dir', workDir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /refused this runner's credential \(401 VK_UNAUTHENTICATED\).*delete .*runner\.json and start with --token-file FILE \(or --token TOKEN\)\.\n$/,
    );
  });

  it('says a --token or --token-file it ignores for the stored credential is ignored, and how to register again', async () => {
    const { url } = await fleet();
    const workDir = join(ws.dir, 'stored-and-token');
    mkdirSync(workDir);
    const file = join(workDir, 'runner.json');
    writeFileSync(file, JSON.stringify({ server: url, runnerId: 'rnr_old', credential: 'revoked' }));
    const withToken = await ws.run([
      'runner',
      '--server',
      url,
      '--work-dir',
      workDir,
      '--token',
      'submit-tok',
    ]);
    // The stored credential is the one used (and refused here): the token did not register anew.
    expect(withToken.code).toBe(2);
    const [first] = withToken.stderr.split('\n');
    expect(first).toBe(
      `valkyrie runner: --token is ignored: this work dir's runner is registered with ${url} as rnr_old, ` +
        `and connects with the credential stored in ${file}. To register again as a new runner, delete ${file} ` +
        'and start with --token.',
    );
    const tokenFile = ws.write('stored-token', 'reg-ok\n');
    const withFile = await ws.run([
      'runner',
      '--server',
      url,
      '--work-dir',
      workDir,
      '--token-file',
      tokenFile,
    ]);
    expect(withFile.stderr).toMatch(
      /^valkyrie runner: --token-file is ignored: .* start with --token-file\.\n/,
    );
    // Refused, the way back names the flag it was started with.
    expect(withFile.stderr).toMatch(/refused this runner's credential .* and start with --token-file\.\n$/);
    // A service restarts with the same flags: told once per token, not at every start.
    const fileArgs = ['runner', '--server', url, '--work-dir', workDir, '--token-file', tokenFile];
    const again = await ws.run(fileArgs);
    expect(again.stderr).not.toMatch(/is ignored/);
    expect(again.stderr).toMatch(/refused this runner's credential/);
    ws.write('stored-token', 'reg-new\n');
    expect((await ws.run(fileArgs)).stderr).toMatch(/^valkyrie runner: --token-file is ignored: /);
    expect((await ws.run(fileArgs)).stderr).not.toMatch(/is ignored/);
    // What it remembers is a digest, never the token.
    expect(readFileSync(file, 'utf8')).not.toContain('reg-new');
    // From the environment (exported for client commands too) it is not worth a line.
    const fromEnv = await ws.run(['runner', '--server', url, '--work-dir', workDir], {
      VALKYRIE_TOKEN: 'submit-tok',
    });
    expect(fromEnv.stderr).not.toMatch(/is ignored/);
  });

  it('registers, runs jobs in their own directories, and drains on SIGTERM: running jobs finish, exit 0', async () => {
    const f = await fleet();
    const workDir = join(ws.dir, 'work');
    const args = [
      ...['runner', '--server', f.url, '--token', 'reg-ok', '--name', 'cli-runner'],
      ...['--labels', 'x,zone=eu', '--capacity', '2', '--work-dir', workDir],
    ];
    const child = start(args);
    const out = output(child);
    const done = collect(child);
    await until(() => out.stdout().includes('connected to'), 'the runner to connect');
    expect(out.stdout()).toMatch(
      /cli-runner connected to http:\/\/127\.0\.0\.1:\d+ over websocket as rnr_cli; capacity 2/,
    );
    expect(statSync(join(workDir, 'runner.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(workDir, 'runner.json'), 'utf8'))).toEqual({
      server: f.url,
      runnerId: 'rnr_cli',
      credential: 'rnr_cli',
      name: 'cli-runner',
      tokenSha256: createHash('sha256').update('reg-ok').digest('hex'),
    });
    await until(() => f.plane.runners().length === 1, 'the runner to register');
    const [view] = f.plane.runners();
    expect(view).toMatchObject({ id: 'rnr_cli', name: 'cli-runner', capacity: 2, connected: true });
    expect(view?.labels).toEqual(expect.arrayContaining(['self-hosted', 'x', 'zone=eu', 'linux']));
    expect(view?.labels).not.toContain('local');

    const handle = await f.plane.startRun(
      sideEffectWorkflow(f.dir, 3, 1, '[self-hosted, x]'),
      request(f.dir),
    );
    await until(() => lines(join(f.dir, 'started.log')).length === 2, 'two jobs to start');
    child.kill('SIGTERM');
    await until(() => f.plane.runners()[0]?.mode === 'draining', 'the runner to drain');
    const result = await done;
    expect(result.stdout).toMatch(/draining: no new jobs; waiting for 2 running jobs/);
    expect(result.code).toBe(0);
    expect(lines(join(f.dir, 'finished.log')).sort()).toEqual(['job-1', 'job-2']);
    // Their results reached the control plane before the runner closed its connection.
    await until(
      () => f.events.filter((e) => e.type === 'job.completed' && e.status === 'succeeded').length === 2,
      'both results',
    );
    expect(f.plane.runners()).toEqual([expect.objectContaining({ connected: false, running: 0 })]);
    const dirs = lines(join(f.dir, 'started.log')).map((line) => line.split(' ')[1] ?? '');
    expect(new Set(dirs).size).toBe(2);
    for (const dir of dirs) {
      expect(dir.startsWith(join(workDir, 'jobs'))).toBe(true);
      expect(existsSync(dir)).toBe(false);
    }
    handle.cancel(false);
    // Restarted with the token it registered with, as a service is: nothing said of it.
    const restarted = start(args);
    const restartedOut = output(restarted);
    const restartedDone = collect(restarted);
    await until(() => restartedOut.stdout().includes('connected to'), 'the restarted runner to connect');
    restarted.kill('SIGTERM');
    const second = await restartedDone;
    expect(second.code).toBe(0);
    expect(second.stderr).not.toMatch(/is ignored/);
  });

  it('gives no job its own VALKYRIE_* settings: a runner started with VALKYRIE_TOKEN does not hand it to steps', async () => {
    const f = await fleet();
    const workDir = join(ws.dir, 'env-token');
    // As its --help suggests: the server and the registration token from the environment.
    const child = start(['runner', '--work-dir', workDir, '--labels', 'x'], {
      VALKYRIE_SERVER: f.url,
      VALKYRIE_TOKEN: 'reg-ok',
      VALKYRIE_ADMIN_TOKEN: 'admin-in-the-shell',
      VALKYRIE_DB: join(ws.dir, 'some.db'),
    });
    const done = collect(child);
    await until(() => f.plane.runners().length === 1, 'the runner to register');
    const out = join(f.dir, 'valkyrie-env');
    const workflow = parseWorkflow(
      `jobs:
  show:
    runs-on: x
    env: { VALKYRIE_MINE: set-by-the-workflow }
    steps:
      - run: |
          echo "token=[$VALKYRIE_TOKEN]"
          env | grep '^VALKYRIE_' | sort > "${out}"
`,
      'w.yml',
    ).workflow;
    if (!workflow) throw new Error('workflow did not parse');
    const handle = await f.plane.startRun(workflow, request(f.dir));
    expect(await handle.done).toBe('succeeded');
    expect(lines(out)).toEqual(['VALKYRIE_MINE=set-by-the-workflow']);
    const texts = (await f.stores.logs.read(handle.id)).map((line) => line.text);
    expect(texts).toContain('token=[]');
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });

  it('leaves the hosted labels out with --no-hosted-labels: a runs-on: ubuntu-latest job is not offered to it', async () => {
    const f = await fleet();
    const workDir = join(ws.dir, 'not-hosted');
    const child = start([
      'runner',
      ...['--server', f.url, '--token', 'reg-ok', '--work-dir', workDir],
      ...['--labels', 'x', '--no-hosted-labels'],
    ]);
    const done = collect(child);
    await until(() => f.plane.runners().length === 1, 'the runner to register');
    const labels = f.plane.runners()[0]?.labels ?? [];
    expect(labels).toEqual(expect.arrayContaining(['self-hosted', 'x']));
    expect(labels.filter((label) => label.startsWith('ubuntu-'))).toEqual([]);
    const hosted = await f.plane.startRun(sideEffectWorkflow(f.dir, 1, 0, 'ubuntu-latest'), request(f.dir));
    const mine = await f.plane.startRun(sideEffectWorkflow(f.dir, 1, 0, '[self-hosted, x]'), request(f.dir));
    expect(await mine.done).toBe('succeeded');
    expect(lines(join(f.dir, 'finished.log'))).toHaveLength(1);
    hosted.cancel(false);
    expect(await hosted.done).toBe('cancelled');
    child.kill('SIGTERM');
    const stopped = await done;
    expect(stopped.code).toBe(0);
    // Idle, it has nothing to wait for, and says so rather than "waiting for 0 running job(s)".
    expect(stopped.stdout).toContain('draining: no job is running; stopping');
  });

  it('reuses its credential on restart, and a second SIGTERM cancels the running job (exit 143)', async () => {
    const f = await fleet();
    const workDir = join(ws.dir, 'restart');
    mkdirSync(workDir);
    writeFileSync(
      join(workDir, 'runner.json'),
      JSON.stringify({ server: f.url, runnerId: 'rnr_cli', credential: 'rnr_cli' }),
    );
    const child = start(
      ['runner', '--server', f.url, '--work-dir', workDir, '--labels', 'x', '--protocol', 'http'],
      {
        VALKYRIE_TOKEN: '',
      },
    );
    const out = output(child);
    const done = collect(child);
    await until(() => out.stdout().includes('connected to'), 'the runner to connect');
    expect(out.stdout()).toMatch(/over long-poll as rnr_cli/);
    const handle = await f.plane.startRun(
      sideEffectWorkflow(f.dir, 1, 30, '[self-hosted, x]'),
      request(f.dir),
    );
    await until(() => lines(join(f.dir, 'started.log')).length === 1, 'the job to start');
    child.kill('SIGTERM');
    await until(() => out.stdout().includes('draining'), 'the drain');
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(143);
    expect(result.stdout).toMatch(/cancelling 1 running job…/);
    expect(await handle.done).toBe('cancelled');
    // The job ends for the runner's own reason, which its log says too.
    const reason = 'the runner is shutting down (second SIGTERM)';
    expect(await f.stores.runs.listJobs(handle.id)).toMatchObject([{ status: 'cancelled', reason }]);
    const texts = (await f.stores.logs.read(handle.id)).map((line) => line.text);
    expect(texts).toContain(`cancelling the job: ${reason}`);
    expect(lines(join(f.dir, 'finished.log'))).toEqual([]);
  });

  it('refuses a second runner on the same work dir (exit 73, one line naming the dir and pid); the first keeps its session and its job', async () => {
    const f = await fleet();
    const workDir = join(ws.dir, 'shared');
    const first = start([
      'runner',
      '--server',
      f.url,
      '--token',
      'reg-ok',
      '--labels',
      'x',
      '--work-dir',
      workDir,
    ]);
    const out = output(first);
    const done = collect(first);
    await until(() => out.stdout().includes('connected to'), 'the first runner to connect');
    const handle = await f.plane.startRun(
      sideEffectWorkflow(f.dir, 1, 30, '[self-hosted, x]'),
      request(f.dir),
    );
    await until(() => lines(join(f.dir, 'started.log')).length === 1, 'the job to start');
    const jobDir = lines(join(f.dir, 'started.log'))[0]?.split(' ')[1] ?? '';
    expect(jobDir.startsWith(join(workDir, 'jobs'))).toBe(true);

    const secondChild = start(['runner', '--server', f.url, '--work-dir', workDir, '--labels', 'x']);
    const second = await collect(secondChild);
    expect(second.code).toBe(73);
    expect(second.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `the work dir ${workDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another runner \\(pid ${first.pid},`,
        ),
      ),
    ]);
    expect(second.stdout).toBe('');
    expect(existsSync(jobDir)).toBe(true);
    expect(JSON.parse(readFileSync(join(workDir, 'runner.lock'), 'utf8')).pid).toBe(first.pid);
    expect(first.exitCode).toBeNull();
    expect(out.stdout()).not.toMatch(/lost the/);
    expect(f.plane.runners()).toEqual([
      expect.objectContaining({ id: 'rnr_cli', connected: true, running: 1 }),
    ]);

    first.kill('SIGTERM');
    await until(() => out.stdout().includes('draining'), 'the drain');
    first.kill('SIGTERM');
    expect((await done).code).toBe(143);
    expect(await handle.done).toBe('cancelled');
    expect(existsSync(join(workDir, 'runner.lock'))).toBe(false);
  });

  it('prints the mode an operator set: as it changes while connected, and at connect when it is not online', async () => {
    const f = await fleet();
    const workDir = join(ws.dir, 'modes');
    const args = ['runner', '--server', f.url, '--work-dir', workDir];
    const first = start([...args, '--token', 'reg-ok']);
    const out = output(first);
    const done = collect(first);
    // The runner says it is connected once its transport is; the server records it when its hello lands.
    await until(() => f.plane.runners().some((view) => view.connected), 'the runner to register');
    const drained =
      'valkyrie runner: mode: draining (set by an operator: it takes no new jobs; valkyrie runners resume rnr_cli to take jobs again)\n';
    expect(f.plane.setRunnerMode('rnr_cli', 'draining')).toBe(true);
    await until(() => out.stdout().includes('mode: draining'), 'the mode line');
    expect(f.plane.setRunnerMode('rnr_cli', 'online')).toBe(true);
    await until(() => out.stdout().includes('mode: online'), 'the resume line');
    expect(f.plane.setRunnerMode('rnr_cli', 'draining')).toBe(true);
    await until(() => out.stdout().split('mode: draining').length === 3, 'the second mode line');
    // A note alone changes what it is told; quoted, so that a control character in it prints escaped.
    expect(f.plane.setRunnerMode('rnr_cli', 'draining', 'operator', 'disk "sdb" \u001b[31mfailing')).toBe(
      true,
    );
    await until(() => out.stdout().includes("operator's note"), 'the note line');
    const noted = `${drained.trimEnd()}; the operator's note: "disk \\"sdb\\" \\u001b[31mfailing"`;
    expect(
      out
        .stdout()
        .split('\n')
        .filter((line) => line.includes('mode:')),
    ).toEqual([
      drained.trimEnd(),
      'valkyrie runner: mode: online (resumed by an operator: it takes jobs again)',
      drained.trimEnd(),
      noted,
    ]);
    first.kill('SIGTERM');
    expect((await done).code).toBe(0);

    // Started again, it is told the mode it is in, with its note, at once.
    const again = start(args);
    const againOut = output(again);
    const againDone = collect(again);
    await until(() => againOut.stdout().includes('mode: draining'), 'the mode line at connect');
    expect(againOut.stdout()).toMatch(
      new RegExp(`connected to .*\\n${noted.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n$`),
    );
    again.kill('SIGTERM');
    expect((await againDone).code).toBe(0);
  });

  it('takes over a lock left by a runner that is gone, and removes the lock on exit', async () => {
    const f = await fleet();
    const workDir = join(ws.dir, 'stale');
    mkdirSync(workDir);
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(gone.stdout.toString());
    writeFileSync(
      join(workDir, 'runner.lock'),
      JSON.stringify({ pid: deadPid, host: hostname(), since: '2020-01-01T00:00:00.000Z' }),
    );
    const child = start(['runner', '--server', f.url, '--token', 'reg-ok', '--work-dir', workDir]);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const out = output(child);
    const done = collect(child);
    await until(() => out.stdout().includes('connected to'), 'the runner to connect');
    expect(stderr).toMatch(
      new RegExp(`took over .*runner\\.lock from pid ${deadPid}, which is no longer running`),
    );
    expect(JSON.parse(readFileSync(join(workDir, 'runner.lock'), 'utf8')).pid).toBe(child.pid);
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
    expect(existsSync(join(workDir, 'runner.lock'))).toBe(false);
  });

  it('measures the free disk of a work dir it creates on its first start', async () => {
    const f = await fleet();
    const workDir = join(ws.dir, 'fresh', 'work');
    const child = start(['runner', '--server', f.url, '--token', 'reg-ok', '--work-dir', workDir]);
    const out = output(child);
    const done = collect(child);
    await until(() => f.plane.runners()[0]?.capabilities !== undefined, 'the capabilities');
    expect(f.plane.runners()[0]?.capabilities?.diskFreeBytes).toBeGreaterThan(0);
    await until(() => out.stdout().includes('connected to'), 'the runner to connect');
    child.kill('SIGTERM');
    expect((await done).code).toBe(0);
  });
});
