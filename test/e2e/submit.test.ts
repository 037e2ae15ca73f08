import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unpackBundle } from '../../src/bundle/unpack.js';
import { readTree } from '../bundle/tree.js';
import { events, type Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';
import { failedRun, inSubmitWorkspaceEachTest, workflow } from './submit-workspace.js';

/** The bundle submit checks before packing: none has the sha256 of no bytes. */
const noBytesSha256 = createHash('sha256').digest('hex');

let ws: Workspace;
let server: FakeApiServer;
inSubmitWorkspaceEachTest((opened) => {
  ({ ws, server } = opened);
});

const submit = (...args: string[]) =>
  ws.run(['submit', 'ci.yml', ...args], { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: 'tok' });

/** The paths of the one bundle uploaded to the fake server, unpacked. */
async function uploadedPaths(): Promise<string[]> {
  const [sha256 = ''] = [...server.bundles.keys()];
  const archive = join(ws.dir, '..', `${sha256}.tar.gz`);
  writeFileSync(archive, server.bundles.get(sha256) ?? Buffer.alloc(0));
  const target = mkdtempSync(join(tmpdir(), 'valkyrie-submitted-'));
  try {
    await unpackBundle({ archive, sha256, target: join(target, 'ws') });
    return readTree(join(target, 'ws')).map((entry) => entry.path);
  } finally {
    rmSync(target, { recursive: true });
    rmSync(archive);
  }
}

describe('valkyrie submit', () => {
  it('uploads the workspace bundle once, then only names it, and creates the run', async () => {
    const first = await submit(
      '--var',
      'region=eu',
      '--env',
      'MODE=fast',
      '--secret',
      'KEY=s3cret',
      '--priority',
      'high',
    );
    expect(first.stderr).toMatch(
      /Workspace: 2 files \(\d+ B\), bundle [0-9a-f]{12} of [\d.]+ (B|KiB): uploaded/,
    );
    // How to watch it, as `gh workflow run` points to `gh run list`: the server and token come from
    // the environment here, which the command reads again.
    expect(first.stdout).toBe(
      `Submitted run run-1 of ci (#1) to ${server.url}\nFollow it with: valkyrie logs run-1 -f\n`,
    );
    expect(first.code).toBe(0);
    const [sha256] = [...server.bundles.keys()];
    // First the check of a bundle none is: the server and token are asked about before packing.
    expect(server.calls()).toEqual([
      `HEAD /api/v1/bundles/${noBytesSha256}`,
      `HEAD /api/v1/bundles/${sha256}`,
      `PUT /api/v1/bundles/${sha256}`,
      'POST /api/v1/runs',
    ]);
    const post = server.requests.at(-1);
    expect(JSON.parse(post?.body.toString() ?? '')).toEqual({
      workflow,
      path: 'ci.yml',
      bundle: sha256,
      vars: { region: 'eu' },
      secrets: { KEY: 's3cret' },
      env: { MODE: 'fast' },
      priority: 'high',
    });
    expect(post?.headers['idempotency-key']).toBeUndefined();

    // What was uploaded is the workspace, modes included.
    const archive = join(ws.dir, '..', `${sha256}.tar.gz`);
    writeFileSync(archive, server.bundles.get(sha256 ?? '') ?? Buffer.alloc(0));
    const target = mkdtempSync(join(tmpdir(), 'valkyrie-submitted-'));
    await unpackBundle({ archive, sha256: sha256 ?? '', target: join(target, 'ws') });
    expect(readTree(join(target, 'ws'))).toEqual([
      { kind: 'file', path: 'build.sh', content: 'echo build\n', mode: 0o755 },
      { kind: 'file', path: 'ci.yml', content: workflow, mode: 0o644 },
    ]);
    rmSync(target, { recursive: true });
    rmSync(archive);

    const second = await submit('--idempotency-key', 'k1');
    expect(second.stderr).toContain('already on the server');
    expect(server.calls().slice(4)).toEqual([
      `HEAD /api/v1/bundles/${noBytesSha256}`,
      `HEAD /api/v1/bundles/${sha256}`,
      'POST /api/v1/runs',
    ]);
    expect(server.requests.at(-1)?.headers['idempotency-key']).toBe('k1');
    expect(second.code).toBe(0);
    // Given as flags: the server named again, the token only as a placeholder.
    const flagged = await ws.run(['submit', 'ci.yml', '--server', server.url, '--token', 'tok']);
    expect(flagged.stdout).toBe(
      `Submitted run run-3 of ci (#3) to ${server.url}\n` +
        `Follow it with: valkyrie logs run-3 -f --server ${server.url} --token TOKEN\n`,
    );
  });

  it("leaves a runner's work dir inside the workspace out of the bundle, saying so", async () => {
    ws.write(
      'runner/runner.json',
      JSON.stringify({ server: server.url, runnerId: 'r1', credential: 'vkr.x' }),
    );
    ws.write('runner/jobs/1/ci.yml', workflow);
    const submitted = await submit();
    expect(submitted.code).toBe(0);
    expect(submitted.stderr).toContain(
      'valkyrie: note: left "runner/" out of the bundle: it is a valkyrie runner\'s work dir',
    );
    expect(submitted.stderr).toMatch(/Workspace: 2 files /);
    expect(await uploadedPaths()).toEqual(['build.sh', 'ci.yml']);
  });

  it('names a git repository inside the workspace that is no submodule, whose files it leaves out', async () => {
    const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe' });
    git(ws.dir, 'init', '-q');
    ws.write('vendor/lib/lib.c', 'int lib;\n');
    git(join(ws.dir, 'vendor/lib'), 'init', '-q');
    const submitted = await submit();
    expect(submitted.code).toBe(0);
    expect(submitted.stderr).toContain(
      'valkyrie: note: left "vendor/lib/" out of the bundle: it is a git repository of its own (not a submodule)',
    );
    expect(await uploadedPaths()).toEqual(['build.sh', 'ci.yml']);
  });

  it('warns when the bundle leaves out a local action the workflow uses, which valkyrie run finds', async () => {
    const composite = 'runs:\n  using: composite\n  steps:\n    - run: echo hi\n      shell: bash\n';
    // Outside git, .valkyrie/ is left out as local state; actions/ is not.
    ws.write('.valkyrie/actions/hello/action.yml', composite);
    ws.write('actions/shipped/action.yml', composite);
    // Reached through a link of the workspace, which the bundle keeps as a link.
    ws.write('shared/linked/action.yml', composite);
    symlinkSync('../shared/linked', join(ws.dir, 'actions/linked'));
    ws.write(
      'ci.yml',
      'jobs:\n  build:\n    runs-on: self-hosted\n    steps:\n' +
        '      - uses: ./.valkyrie/actions/hello\n      - uses: ./actions/shipped\n' +
        '      - uses: ./actions/linked\n',
    );
    const submitted = await submit();
    expect(submitted.code).toBe(0);
    expect(submitted.stderr.split('\n').filter((line) => line.includes('warning'))).toEqual([
      'valkyrie: warning: the bundle leaves out .valkyrie/actions/hello/action.yml, of the local action ' +
        './.valkyrie/actions/hello that the workflow uses, so its steps will fail on the runners: ' +
        'outside git, .valkyrie/ is left out as local state (docs/submit.md, "What goes into a bundle")',
    ]);
    expect(await uploadedPaths()).toEqual([
      'actions/linked',
      'actions/shipped/action.yml',
      'build.sh',
      'ci.yml',
      'shared/linked/action.yml',
    ]);
  });

  it("sends --job as the run request's jobs, and refuses an unknown id before sending anything", async () => {
    const unknown = await submit('--job', 'build,test');
    expect(unknown).toMatchObject({
      code: 2,
      stdout: '',
      stderr: 'valkyrie: --job: "test" is not a job of ci.yml; its jobs: build\n',
    });
    expect(server.calls()).toEqual([]);

    const selected = await submit('--job', 'build', '--no-bundle');
    expect(selected.code).toBe(0);
    expect(JSON.parse(server.requests.at(-1)?.body.toString() ?? '')).toMatchObject({ jobs: ['build'] });
  });

  it("with --workspace and no FILE, takes that folder's default workflow and bundles only it", async () => {
    mkdirSync(join(ws.dir, 'app', '.valkyrie', 'workflows'), { recursive: true });
    ws.write('app/.valkyrie/workflows/main.yml', workflow);
    ws.write('app/main.sh', 'echo app\n');
    const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: 'tok' };
    const result = await ws.run(['submit', '--workspace', 'app'], env);
    expect(result.stderr).toMatch(/Workspace: 1 file \(9 B\), bundle/);
    expect(result.code).toBe(0);
    const body = JSON.parse(server.requests.at(-1)?.body.toString() ?? '') as { path: string };
    // Relative to the workspace it bundles, where runners find it (to place an expression's error).
    expect(body.path).toBe(join('.valkyrie', 'workflows', 'main.yml'));
  });

  it('reports a run the idempotency key already named, and prints JSON with --json', async () => {
    await submit('--idempotency-key', 'same', '--no-bundle');
    const again = await submit('--idempotency-key', 'same', '--no-bundle', '--json');
    expect(again.stderr).toContain(
      'was already submitted with idempotency key "same"; its status is succeeded',
    );
    expect(events(again.stdout)).toEqual([
      { type: 'run.duplicate', runId: 'run-1', runNumber: 1, workflow: 'ci', status: 'succeeded' },
    ]);
    expect(server.calls()).toEqual(['POST /api/v1/runs', 'POST /api/v1/runs']);
  });

  it('takes a key in double quotes as the key inside them, sent bare, as an older server reads it', async () => {
    await submit('--idempotency-key', 'same', '--no-bundle');
    const again = await submit('--idempotency-key', '"same"', '--no-bundle');
    expect(again.stderr).toContain(
      'was already submitted with idempotency key "same"; its status is succeeded',
    );
    expect(server.requests.map((r) => r.headers['idempotency-key'])).toEqual(['same', 'same']);
    const malformed = await submit('--idempotency-key', '"same', '--no-bundle');
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('--idempotency-key: a value that begins with a double quote');
    expect(server.calls()).toEqual(['POST /api/v1/runs', 'POST /api/v1/runs']);
  });

  it('takes the run number of a server from before runNumber, which called it number', async () => {
    server.runNumberKey = 'number';
    const sent = await submit('--no-bundle', '--json');
    expect(sent.stderr).toBe('');
    expect(events(sent.stdout)).toMatchObject([{ type: 'run.submitted', runId: 'run-1', runNumber: 1 }]);
  });

  it("sends --event, and refuses one the workflow's on: does not list (exit 2), sending nothing", async () => {
    ws.write('events.yml', `on: [push, pull_request]\n${workflow}`);
    const args = ['submit', 'events.yml', '--no-bundle', '--server', server.url, '--token', 'tok'];
    const refused = await ws.run([...args, '--event', 'schedule']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      `valkyrie: event "schedule" is not one of the workflow's on: triggers (push, pull_request)\n`,
    );
    expect(server.requests).toEqual([]);
    const sent = await ws.run([...args, '--event', 'pull_request']);
    expect(sent.code).toBe(0);
    const body = JSON.parse(server.requests.at(-1)?.body.toString() ?? '') as { event?: string };
    expect(body.event).toBe('pull_request');
  });

  it('asks no required input of a run it starts as push, saying that such a run has no inputs', async () => {
    const inputs = '  workflow_dispatch:\n    inputs:\n      target: { required: true }\n';
    ws.write('deploy.yml', `on:\n  push:\n${inputs}${workflow}`);
    const args = ['submit', 'deploy.yml', '--no-bundle', '--server', server.url, '--token', 'tok'];
    const sent = await ws.run(args);
    expect(sent.stderr).toContain(
      'valkyrie: the run starts as push, which has no inputs on GitHub: inputs.target is empty, not its default; --event workflow_dispatch gives it\n',
    );
    expect(sent.code).toBe(0);
    const body = JSON.parse(server.requests.at(-1)?.body.toString() ?? '') as { inputs?: unknown };
    expect(body.inputs ?? {}).toEqual({});
    const asked = await ws.run([...args, '--event', 'workflow_dispatch']);
    expect(asked.stderr).toBe('valkyrie: input "target" is required: give it with --input target=VALUE\n');
    expect(asked.code).toBe(2);
  });

  it("sends the checkout's git context; a server from before the field gets the run without it, with a warning", async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=A', '-c', 'user.email=a@e', ...args], { cwd: ws.dir })
        .toString()
        .trim();
    git('init', '-q', '-b', 'main');
    git('remote', 'add', 'origin', 'https://github.com/acme/widgets.git');
    git('commit', '-q', '--allow-empty', '-m', 'Ship it');
    const sha = git('rev-parse', 'HEAD');
    const sent = await submit('--no-bundle');
    expect(sent.code).toBe(0);
    const body = JSON.parse(server.requests.at(-1)?.body.toString() ?? '');
    // The workflow has no on:, so the run is no push and its commit is not read.
    expect(body.git).toEqual({
      sha,
      ref: 'refs/heads/main',
      repository: 'acme/widgets',
      serverUrl: 'https://github.com',
    });

    server.knownRunFields = ['workflow', 'path', 'bundle', 'vars', 'secrets', 'env', 'priority'];
    const older = await submit('--no-bundle', '--idempotency-key', 'k2');
    expect(older.stderr).toMatch(/warning: the server predates the run request.s git field/);
    expect(older.stdout).toBe(
      `Submitted run run-2 of ci (#2) to ${server.url}\nFollow it with: valkyrie logs run-2 -f\n`,
    );
    expect(older.code).toBe(0);
    const [refused, accepted] = server.requests.slice(-2).map((r) => JSON.parse(r.body.toString()));
    expect(refused.git).toEqual(body.git);
    expect(accepted).toEqual({ ...refused, git: undefined });
    expect(server.requests.slice(-2).map((r) => r.headers['idempotency-key'])).toEqual(['k2', 'k2']);
  });

  it('leaves out a git field the API would refuse, with a warning naming it, and submits the run', async () => {
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=A', '-c', 'user.email=a@e', ...args], { cwd: ws.dir })
        .toString()
        .trim();
    git('init', '-q', '-b', 'main');
    // A tab in the origin's path: the repository would be `acme/wid\tgets`, which no step env may hold.
    git('remote', 'add', 'origin', 'https://github.com/acme/wid%09gets.git');
    git('commit', '-q', '--allow-empty', '-m', 'Ship it');
    const sent = await submit('--no-bundle');
    expect(sent.stderr).toContain(
      'valkyrie: warning: git.repository is left out of the run: the server would refuse git.repository (no control characters), read "acme/wid\\tgets"\n',
    );
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toBe(
      `Submitted run run-1 of ci (#1) to ${server.url}\nFollow it with: valkyrie logs run-1 -f\n`,
    );
    const body = JSON.parse(server.requests.at(-1)?.body.toString() ?? '');
    expect(body.git).toEqual({
      sha: git('rev-parse', 'HEAD'),
      ref: 'refs/heads/main',
      serverUrl: 'https://github.com',
    });
  });

  it('sends nothing for a workflow that does not validate (exit 2)', async () => {
    ws.write('bad.yml', 'jobs:\n  build:\n    steps: []\n');
    const result = await ws.run(['submit', 'bad.yml', '--server', server.url, '--token', 'tok']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('bad.yml:');
    expect(server.requests).toEqual([]);
  });

  it('follows the run with the line view and exits 1 when it failed', async () => {
    server.script = { events: failedRun };
    const result = await submit('--follow');
    expect(result.stdout).toContain('Run run-1 of ci (#1)');
    expect(result.stdout).toContain('[build] compiling on the fleet');
    expect(result.stdout).toContain('[build] ✗ Run ./build.sh failed (exit code 3)');
    expect(result.stdout).toMatch(/build\s+✗ failed/);
    expect(result.stdout).toContain('Run failed in 9ms');
    expect(result.stderr).toContain('Submitted run run-1 of ci (#1)');
    expect(result.code).toBe(1);
  });

  it('passes the events through with --follow --json, as `valkyrie run --json` prints them', async () => {
    const succeeded = failedRun.map((event) =>
      event.type === 'run.completed' ? { ...event, status: 'succeeded', jobs: [] } : event,
    );
    server.script = { events: succeeded };
    const result = await submit('--follow', '--json');
    expect(events(result.stdout)).toEqual(succeeded);
    expect(result.code).toBe(0);
  });

  it('reconnects a stream that ends before the run completed, and exits 69 once --reconnect-timeout has passed', async () => {
    server.script = { events: failedRun.slice(0, 3) };
    const result = await submit('--follow', '--json', '--no-bundle', '--reconnect-timeout', '1s');
    expect(result.stderr).toContain(
      'valkyrie: lost the event stream of run run-1 (the event stream ended before the run completed); reconnecting',
    );
    // The hint adds no --server that VALKYRIE_SERVER gave, as "Follow it with:" adds none.
    expect(result.stderr).toContain(
      'lost the event stream of run run-1 and could not get it back within 1.0s (the event stream ended before the run completed); the run goes on on the server (valkyrie show run-1)\n',
    );
    // Each reconnect got the run replayed; what was shown once is not shown again.
    expect(events(result.stdout)).toEqual(failedRun.slice(0, 3));
    expect(result.code).toBe(69);
    const flags = ['--server', server.url, '--token', 'tok', '--reconnect-timeout', '300ms'];
    const flagged = await ws.run(['submit', 'ci.yml', '--follow', '--no-bundle', ...flags]);
    const id = /Submitted run (\S+) /.exec(flagged.stderr)?.[1];
    expect(flagged.stderr).toContain(
      `the run goes on on the server (valkyrie show ${id} --server ${server.url} --token TOKEN)\n`,
    );
  });

  it('refuses a --reconnect-timeout that is not a duration (exit 2), sending nothing', async () => {
    const result = await submit('--follow', '--no-bundle', '--reconnect-timeout', 'soon');
    expect(result.stderr).toContain('--reconnect-timeout takes a duration such as 250ms');
    expect(server.calls()).toEqual([]);
    expect(result.code).toBe(2);
  });

  it('waits out a restarting server (503 VK_SHUTTING_DOWN, Retry-After), saying so once, and creates one run', async () => {
    server.shuttingDownFor = 2;
    const result = await submit('--no-bundle');
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      `valkyrie: the server at ${server.url} is shutting down or restarting (503 VK_SHUTTING_DOWN); retrying in 1s, for up to 30s\n`,
    );
    expect(result.stdout).toContain('Submitted run run-1 of ci (#1)');
    expect(server.calls().filter((call) => call === 'POST /api/v1/runs')).toHaveLength(3);
  });

  it("prints the server's refusal and its diagnostics against the file, without a stack (exit 2)", async () => {
    ws.write('ci.yml', workflow.replace('./build.sh', './build.sh # SERVER_REJECTS'));
    const result = await submit('--no-bundle');
    expect(result.stderr).toContain('ci.yml:3:3: error: the server does not like this job');
    expect(result.stderr).toContain(
      'valkyrie: the server refused (HTTP 400): VK_INVALID_WORKFLOW: the workflow has 1 error',
    );
    expect(result.stderr).not.toMatch(/\bat .*\.js:\d+/);
    expect(result.code).toBe(2);
  });

  it('exits 77 when the token is refused', async () => {
    const head = await ws.run(['submit', 'ci.yml', '--server', server.url, '--token', 'wrong']);
    // The bundle check's HEAD has no body to say why: a GET asked after it brings the server's reason.
    expect(head.stderr).toContain(
      'valkyrie: the server refused (HTTP 401): VK_UNAUTHORIZED: the token is not valid\n',
    );
    expect(head.code).toBe(77);
    const post = await ws.run([
      'submit',
      'ci.yml',
      '--no-bundle',
      '--server',
      server.url,
      '--token',
      'wrong',
    ]);
    expect(post.stderr).toContain('(HTTP 401): VK_UNAUTHORIZED: the token is not valid\n');
    expect(post.code).toBe(77);
  });

  it('says clearly when the server cannot be reached (exit 69)', async () => {
    const url = server.url;
    await server.close();
    const result = await ws.run(['submit', 'ci.yml', '--server', url, '--token', 'tok']);
    expect(result.stderr).toBe(
      `valkyrie: cannot reach the Valkyrie server at ${url}: connection refused (ECONNREFUSED)\n`,
    );
    expect(result.code).toBe(69);
    server = await new FakeApiServer().start();
  });

  it('refuses a workspace over the bundle size limit, uploading nothing (exit 2)', async () => {
    ws.write('data.bin', 'x'.repeat(3000));
    const result = await submit('--max-bundle-size', '2KiB');
    expect(result.stderr).toMatch(
      /over the bundle limit of 2\.0 KiB \(largest: data\.bin 2\.9 KiB, .*\); nothing was uploaded/,
    );
    expect(result.code).toBe(2);
    expect(server.calls()).toEqual([`HEAD /api/v1/bundles/${noBytesSha256}`]);
  });

  it('refuses a --workspace that does not exist or is a file with one line, exit 2, asking the server nothing', async () => {
    const missing = await submit('--workspace', 'nowhere');
    expect(missing.stderr).toBe('valkyrie: --workspace: "nowhere" does not exist\n');
    expect(missing.code).toBe(2);
    const file = await submit('--workspace', 'build.sh');
    expect(file.stderr).toBe('valkyrie: --workspace: "build.sh" is not a folder\n');
    expect(file.code).toBe(2);
    const under = await submit('--workspace', 'build.sh/sub');
    expect(under.stderr).toBe('valkyrie: --workspace: "build.sh/sub" does not exist\n');
    expect(server.requests).toEqual([]);
  });

  it('asks for a server and a token when none is given', async () => {
    const result = await ws.run(['submit', 'ci.yml'], { VALKYRIE_SERVER: '', VALKYRIE_TOKEN: '' });
    // In the words of every other client command, with what a server's address looks like.
    expect(result.stderr).toBe(
      'valkyrie: no server: pass --server URL or set VALKYRIE_SERVER (e.g. http://127.0.0.1:7070)\n',
    );
    expect(result.code).toBe(2);
  });
});
