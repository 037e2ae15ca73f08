import { type ChildProcess, execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { type CliResult, collect, Workspace } from './cli.js';
import { killGroup, readPid, waitFor } from './process-state.js';

const execFileAsync = promisify(execFile);

export interface StartedProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly done: Promise<CliResult>;
}

export interface StartedServer extends StartedProcess {
  readonly url: string;
}

/** Starts a `valkyrie …` child and keeps what it prints readable while it runs. */
export function startProcess(
  workspace: Workspace,
  args: readonly string[],
  env: Record<string, string> = {},
): StartedProcess {
  const child = workspace.start(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done: collect(child) };
}

/**
 * `valkyrie submit FILE --follow --json` (after `flags`, such as `--no-bundle`) to the server at
 * `serverUrl` with `token`, started and added to `processes`, not waited for.
 */
export function startSubmit(
  workspace: Workspace,
  processes: StartedProcess[],
  serverUrl: string,
  token: string,
  file: string,
  flags: readonly string[] = [],
): StartedProcess {
  const follow = startProcess(workspace, ['submit', file, ...flags, '--follow', '--json'], {
    VALKYRIE_SERVER: serverUrl,
    VALKYRIE_TOKEN: token,
  });
  processes.push(follow);
  return follow;
}

/**
 * Starts `valkyrie runner` on a work dir of its own in the workspace (`runner-NAME`): on the default,
 * ~/.valkyrie/runner, two test files running at once would meet each other's lock, and one exit 73.
 */
function startRunnerProcess(
  workspace: Workspace,
  serverUrl: string,
  registration: string,
  name: string,
  args: readonly string[] = [],
): StartedProcess {
  const own = ['--name', name, '--work-dir', `runner-${name}`];
  return startProcess(workspace, ['runner', '--server', serverUrl, '--token', registration, ...own, ...args]);
}

/**
 * startRunnerProcess, added to `processes` and waited for until it says it connected; a runner that
 * exits first fails the wait with what it printed.
 */
export async function startConnectedRunner(
  workspace: Workspace,
  processes: StartedProcess[],
  serverUrl: string,
  registration: string,
  name: string,
  args: readonly string[] = [],
): Promise<StartedProcess> {
  const runner = startRunnerProcess(workspace, serverUrl, registration, name, args);
  processes.push(runner);
  await waitFor(
    () => /connected to/.test(runner.stdout()) || runner.child.exitCode !== null,
    20_000,
    `runner ${name} to connect`,
  );
  if (runner.child.exitCode !== null)
    throw new Error(`runner ${name} exited ${runner.child.exitCode}: ${runner.stderr()}`);
  return runner;
}

/** A test file's afterAll: SIGKILLs those of `processes` still running, and waits for all of them to end. */
export async function killAll(processes: readonly StartedProcess[]): Promise<void> {
  for (const started of processes) if (started.child.exitCode === null) started.child.kill('SIGKILL');
  await Promise.all(processes.map((started) => started.done));
}

/**
 * SIGKILLs `runner` mid-job, and the job's step (its process group; its pid in the file `stepPid`),
 * which outlives its runner as on a machine whose agent crashed: it must not be what ends the job.
 * Resolves once the runner has exited.
 */
export async function killRunnerMidJob(runner: StartedProcess, stepPid: string): Promise<void> {
  runner.child.kill('SIGKILL');
  killGroup(readPid(stepPid));
  await runner.done;
}

/**
 * The afterAll of a test file whose runners may be killed mid-job: its processes (killAll), then the
 * steps that outlived their runner (their pid files in `strays`, filled as the tests go), then the
 * workspace.
 */
export function endAfterAll(
  workspace: Workspace,
  processes: readonly StartedProcess[],
  strays: readonly string[],
): void {
  afterAll(async () => {
    await killAll(processes);
    for (const pidFile of strays) killGroup(readPid(pidFile));
    workspace.dispose();
  });
}

/**
 * Starts `valkyrie server --port 0` and waits for its one line with the URL. Its data directory is
 * `.valkyrie/server` in the workspace, which bundles leave out: a `submit` from the workspace must not
 * pack the server's live SQLite files (they change while they are read, and the bundle is refused).
 */
export async function startServer(
  workspace: Workspace,
  args: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<StartedServer> {
  const started = startProcess(
    workspace,
    ['server', '--port', '0', '--data-dir', '.valkyrie/server', '--drain-timeout', '2s', ...args],
    env,
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const match = /listening on (\S+)\n/.exec(started.stdout());
      if (match?.[1]) {
        clearInterval(timer);
        resolve(match[1]);
      }
    }, 20);
    void started.done.then((result) => {
      clearInterval(timer);
      reject(new Error(`server exited ${result.code}: ${result.stderr}`));
    });
  });
  return { ...started, url };
}

/** A request to a server's API with `bearer` as its token; a body is sent as JSON. */
export function callApi(
  baseUrl: string,
  bearer: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/**
 * A caller of the server's API with the admin token: the answer's JSON (or text), or an error naming
 * the request and its status when it is not 2xx.
 */
export function adminApi(baseUrl: string, admin: string) {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await callApi(baseUrl, admin, method, path, body);
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
    const type = response.headers.get('content-type') ?? '';
    return (type.includes('json') ? await response.json() : await response.text()) as T;
  };
}

/** A new token of `role`, made through the API with the admin token `admin`; the answer must be 201. */
export async function createToken(baseUrl: string, admin: string, role: string): Promise<string> {
  const response = await callApi(baseUrl, admin, 'POST', '/api/v1/tokens', { role });
  if (response.status !== 201) throw new Error(`token create (${role}) answered ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

/**
 * A server with `admin` as its admin token and `serverArgs` (in `processes`, to be killed with them)
 * and a runner registration token made on it: what a test of `valkyrie runner` against a real server
 * starts with.
 */
export async function startServerForRunners(
  workspace: Workspace,
  admin: string,
  processes: StartedProcess[],
  serverArgs: readonly string[] = [],
): Promise<{ server: StartedServer; registration: string }> {
  const server = await startServer(workspace, serverArgs, { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  return { server, registration: await createToken(server.url, admin, 'runner') };
}

/** A port free now, for two servers in turn: a runner reconnects to the URL it was given. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/** Reads until `read` answers (a failed read counts as no answer yet), for at most 20 s. */
export async function until<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Waits until a stopped (SIGSTOPped) runner has bytes from the server at `serverUrl` waiting unread in
 * its socket (`ss`' Recv-Q of a connection to the server's port): the offer sent to it is out, so a
 * test that pauses around an offer knows the offer went before the pause, rather than assuming it did.
 */
export function untilUnreadFromServer(serverUrl: string): Promise<true> {
  const port = new URL(serverUrl).port;
  return until(`bytes from the server waiting in a socket to port ${port}`, async () => {
    const { stdout } = await execFileAsync('ss', ['-tnH', 'state', 'established', `( dport = :${port} )`]);
    const waiting = stdout.split('\n').some((line) => Number(line.trim().split(/\s+/)[0]) > 0);
    return waiting ? true : undefined;
  });
}

export interface Fleet {
  readonly server: StartedServer;
  readonly runner: StartedProcess;
  /** A new token of `role`, made with the admin token. */
  token(role: string): Promise<string>;
}

/**
 * A test file's fleet: `valkyrie server` with the admin token `admin`, and one `valkyrie runner`
 * (startRunnerProcess, named `name`) it has seen connect — or that exited. Both go to `processes`.
 */
export async function startFleet(
  workspace: Workspace,
  processes: StartedProcess[],
  admin: string,
  name: string,
  runnerArgs: readonly string[] = [],
): Promise<Fleet> {
  const server = await startServer(workspace, [], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  const token = (role: string) => createToken(server.url, admin, role);
  const runner = startRunnerProcess(workspace, server.url, await token('runner'), name, runnerArgs);
  processes.push(runner);
  await waitFor(
    () => /connected to/.test(runner.stdout()) || runner.child.exitCode !== null,
    20_000,
    'the runner to connect',
  );
  return { server, runner, token };
}

export interface RestartableFleet {
  readonly first: StartedServer;
  readonly runner: StartedProcess;
  readonly api: ReturnType<typeof adminApi>;
  /** Starts the server again, on the first one's port and store (the runner reconnects to its URL). */
  restart(): Promise<StartedServer>;
}

/**
 * A server on a port of its own, so that a server started again after it is killed has its URL, with
 * `serverArgs`, and a runner (`runnerArgs`, work dir .valkyrie/work) not waited for. All started go to
 * `processes`. `via` gives the URL the runner is given, for the server's port (a proxy in between);
 * by default the server's own.
 */
export async function startRestartableFleet(
  workspace: Workspace,
  processes: StartedProcess[],
  admin: string,
  serverArgs: readonly string[],
  runnerArgs: readonly string[],
  via?: (port: number) => Promise<string>,
): Promise<RestartableFleet> {
  const port = String(await freePort());
  const args = ['--port', port, '--host', '127.0.0.1', ...serverArgs];
  const env = { VALKYRIE_ADMIN_TOKEN: admin };
  const first = await startServer(workspace, args, env);
  processes.push(first);
  const api = adminApi(first.url, admin);
  const { token } = await api<{ token: string }>('POST', '/api/v1/tokens', { role: 'runner' });
  const workDir = join(workspace.dir, '.valkyrie', 'work');
  const runnerUrl = via === undefined ? first.url : await via(Number(port));
  const runner = startProcess(workspace, [
    ...['runner', '--server', runnerUrl, '--token', token],
    ...runnerArgs,
    ...['--work-dir', workDir],
  ]);
  processes.push(runner);
  const restart = async () => {
    const again = await startServer(workspace, args, env);
    processes.push(again);
    return again;
  };
  return { first, runner, api, restart };
}

export interface ServerWithRunner {
  readonly ws: Workspace;
  readonly server: StartedServer;
  readonly runner: StartedProcess;
  readonly api: ReturnType<typeof adminApi>;
}

/**
 * The fleets of a test file whose tests each start their own, in a workspace of their own, with `admin`
 * as the server's admin token. Called at the file's top level, it registers the file's afterAll: the
 * processes its fleets started are killed (killAll), then their workspaces disposed.
 */
export function fleetsInOwnWorkspaces(admin: string) {
  const workspaces: Workspace[] = [];
  const processes: StartedProcess[] = [];
  afterAll(async () => {
    await killAll(processes);
    for (const ws of workspaces) ws.dispose();
  });
  const newWorkspace = () => {
    const ws = new Workspace();
    workspaces.push(ws);
    return ws;
  };
  return {
    /**
     * A server with `serverArgs`, and one runner named `name` and labelled with it (then `runnerArgs`)
     * that it has seen connect (startConnectedRunner).
     */
    async startServerWithRunner(
      serverArgs: readonly string[],
      name: string,
      runnerArgs: readonly string[] = [],
    ): Promise<ServerWithRunner> {
      const ws = newWorkspace();
      const { server, registration } = await startServerForRunners(ws, admin, processes, serverArgs);
      const runner = await startConnectedRunner(ws, processes, server.url, registration, name, [
        ...['--labels', name],
        ...runnerArgs,
      ]);
      return { ws, server, runner, api: adminApi(server.url, admin) };
    },
    /** startRestartableFleet, with `serverArgs` and `runnerArgs`. */
    async startRestartable(
      serverArgs: readonly string[],
      runnerArgs: readonly string[],
    ): Promise<RestartableFleet & { readonly ws: Workspace }> {
      const ws = newWorkspace();
      return { ws, ...(await startRestartableFleet(ws, processes, admin, serverArgs, runnerArgs)) };
    },
  };
}

/** The id of the run's first job once it runs. */
export function untilFirstJobRuns(api: RestartableFleet['api'], runPath: string): Promise<string> {
  return until('the job to start', async () => {
    const job = (await api<{ run: { jobs: { id: string; status: string }[] } }>('GET', runPath)).run.jobs[0];
    return job?.status === 'running' ? job.id : undefined;
  });
}

/** The run once it is neither queued nor running. */
export function untilRunEnds<T extends { status: string }>(
  api: RestartableFleet['api'],
  runPath: string,
): Promise<T> {
  return until('the run to end', async () => {
    const view = (await api<{ run: T }>('GET', runPath)).run;
    return view.status === 'running' || view.status === 'queued' ? undefined : view;
  });
}
