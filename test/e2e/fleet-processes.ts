import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { type CliResult, collect, type Workspace } from './cli.js';

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
 * Starts `valkyrie runner` on a work dir of its own in the workspace (`runner-NAME`): on the default,
 * ~/.valkyrie/runner, two test files running at once would meet each other's lock, and one exit 73.
 */
export function startRunnerProcess(
  workspace: Workspace,
  serverUrl: string,
  registration: string,
  name: string,
  args: readonly string[] = [],
): StartedProcess {
  const own = ['--name', name, '--work-dir', `runner-${name}`];
  return startProcess(workspace, ['runner', '--server', serverUrl, '--token', registration, ...own, ...args]);
}

/** A test file's afterAll: SIGKILLs those of `processes` still running, and waits for all of them to end. */
export async function killAll(processes: readonly StartedProcess[]): Promise<void> {
  for (const started of processes) if (started.child.exitCode === null) started.child.kill('SIGKILL');
  await Promise.all(processes.map((started) => started.done));
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
