import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, summary, Workspace } from './cli.js';
import {
  killAll,
  type StartedProcess,
  type StartedServer,
  startProcess,
  startServer,
} from './fleet-processes.js';
import { waitFor } from './process-state.js';

/**
 * `valkyrie server --tls-cert/--tls-key` with a self-signed certificate (test/fixtures/tls, for
 * 127.0.0.1). A runner or client command that does not trust it stops at once with one line and its
 * exit code (a runner used to retry it forever as a network blip); with NODE_EXTRA_CA_CERTS naming
 * the certificate, the same runner registers, is listed, and runs a job with a workspace bundle.
 */
const admin = 'vkt-e2e-runner-tls-admin-01234567';
const cert = resolve(import.meta.dirname, '../fixtures/tls/cert.pem');
const key = resolve(import.meta.dirname, '../fixtures/tls/key.pem');
/** The machine may set NODE_EXTRA_CA_CERTS for every process; these tests say what each one trusts. */
const untrusted = { NODE_EXTRA_CA_CERTS: '' };
const trusted = { NODE_EXTRA_CA_CERTS: cert };
/** The runner's reconnect backoff starts at a quarter second and grows to 30 s: it never gives up by itself. */
const promptlyMs = 5_000;

const workflow = `name: tls
jobs:
  build:
    runs-on: [self-hosted, tls-e2e]
    steps:
      - run: cat marker.txt
`;

/** The runner's result once it exits; one still running after `ms` is killed (exit code null). */
async function exitWithin(runner: StartedProcess, ms: number): Promise<CliResult> {
  const timer = setTimeout(() => runner.child.kill('SIGKILL'), ms);
  try {
    return await runner.done;
  } finally {
    clearTimeout(timer);
  }
}

describe('a server with a self-signed TLS certificate', () => {
  const ws = new Workspace();
  let server: StartedServer;
  const processes: StartedProcess[] = [];
  const notTrusted = () =>
    `the server's TLS certificate is not trusted (self-signed certificate): ${server.url} — ` +
    'trust its CA with NODE_EXTRA_CA_CERTS=FILE (PEM; read when the process starts)';

  beforeAll(async () => {
    ws.write('ci.yml', workflow);
    ws.write('marker.txt', 'bundled over https\n');
    server = await startServer(ws, ['--tls-cert', cert, '--tls-key', key], { VALKYRIE_ADMIN_TOKEN: admin });
    processes.push(server);
  });
  afterAll(async () => {
    await killAll(processes);
    ws.dispose();
  });

  const client = (trust: Record<string, string>) => ({
    VALKYRIE_SERVER: server.url,
    VALKYRIE_TOKEN: admin,
    ...trust,
  });

  async function registrationToken(): Promise<string> {
    const created = await ws.run(['token', 'create', '--role', 'runner'], client(trusted));
    expect(created.code, created.stderr).toBe(0);
    return created.stdout.trim();
  }

  function startRunner(args: readonly string[], trust: Record<string, string>): StartedProcess {
    const runner = startProcess(ws, ['runner', '--server', server.url, ...args], {
      VALKYRIE_TOKEN: '',
      ...trust,
    });
    processes.push(runner);
    return runner;
  }

  it('a runner that does not trust it exits 78 at registration, with one line and no stack trace', async () => {
    const token = await registrationToken();
    const workDir = join(ws.dir, '.valkyrie', 'work-register');
    const started = Date.now();
    const result = await exitWithin(
      startRunner(['--token', token, '--work-dir', workDir], untrusted),
      promptlyMs,
    );
    expect(result.code, result.stderr).toBe(78);
    expect(Date.now() - started).toBeLessThan(promptlyMs);
    expect(result.stderr).toBe(`valkyrie runner: ${notTrusted()}\n`);
    expect(result.stdout).toBe('');
  });

  it.each(['auto', 'ws', 'http'])(
    'a registered runner that does not trust it exits 78 at connect (--protocol %s)',
    async (protocol) => {
      // As if registered before the server moved to this certificate: straight to the connection.
      const workDir = join(ws.dir, '.valkyrie', `work-connect-${protocol}`);
      mkdirSync(workDir, { recursive: true });
      const credentials = { server: server.url, runnerId: '0123456789ab', credential: 'rnr-unused' };
      writeFileSync(join(workDir, 'runner.json'), JSON.stringify(credentials), { mode: 0o600 });
      const result = await exitWithin(
        startRunner(['--work-dir', workDir, '--protocol', protocol], untrusted),
        promptlyMs,
      );
      expect(result.code, result.stderr).toBe(78);
      expect(result.stderr).toBe(`valkyrie runner: ${notTrusted()}\n`);
    },
  );

  it('client commands that do not trust it exit 69 with one line: runners list, submit', async () => {
    const listed = await ws.run(['runners', 'list'], client(untrusted));
    expect(listed).toMatchObject({ code: 69, stdout: '', stderr: `valkyrie: ${notTrusted()}\n` });
    const submitted = await ws.run(['submit', 'ci.yml'], client(untrusted));
    expect(submitted.code, submitted.stderr).toBe(69);
    expect(submitted.stderr.trimEnd().split('\n').at(-1)).toBe(`valkyrie: ${notTrusted()}`);
    expect(submitted.stderr).not.toMatch(/^\s+at /m);
  });

  it('with NODE_EXTRA_CA_CERTS naming its certificate, the runner registers, is listed and runs a job', async () => {
    const token = await registrationToken();
    const workDir = join(ws.dir, '.valkyrie', 'work-trusted');
    const runner = startRunner(
      ['--token', token, '--work-dir', workDir, '--name', 'tls-runner', '--labels', 'tls-e2e'],
      trusted,
    );
    await waitFor(
      () => /connected to \S+ over websocket as/.test(runner.stdout()) || runner.child.exitCode !== null,
      20_000,
      'the trusting runner to connect',
    );
    expect(runner.child.exitCode, runner.stderr()).toBeNull();
    expect(runner.stdout()).toContain(`registered with ${server.url} as `);

    const listed = await ws.run(['runners', 'list', '--json'], client(trusted));
    expect(listed.code, listed.stderr).toBe(0);
    const fleet = JSON.parse(listed.stdout) as { name: string; connected: boolean }[];
    expect(fleet).toContainEqual(expect.objectContaining({ name: 'tls-runner', connected: true }));

    // The workspace bundle is uploaded and then downloaded by the runner over https too.
    const submitted = await ws.run(['submit', 'ci.yml', '--follow', '--json'], client(trusted));
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(summary(submitted.stdout).status).toBe('succeeded');
    expect(submitted.stdout).toContain('bundled over https');

    runner.child.kill('SIGTERM');
    const stopped = await runner.done;
    expect(stopped.code, stopped.stderr).toBe(0);
  });
});

describe('a server that comes back with a certificate the runner does not trust', () => {
  const ws = new Workspace();
  const processes: StartedProcess[] = [];
  afterAll(async () => {
    await killAll(processes);
    ws.dispose();
  });

  it.each(['ws', 'http'])(
    'the connected runner (--protocol %s) exits 78 at the reconnect, with one line',
    async (protocol) => {
      // Another self-signed certificate for the same address: the runner trusts only the first.
      const other = join(ws.dir, `other-${protocol}`);
      mkdirSync(other, { recursive: true });
      const made = spawnSync('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(other, 'key.pem'),
        '-out',
        join(other, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ]);
      expect(made.status, made.stderr.toString()).toBe(0);
      const dataDir = `.valkyrie/server-${protocol}`;
      const env = { VALKYRIE_ADMIN_TOKEN: admin };
      const first = await startServer(ws, ['--data-dir', dataDir, '--tls-cert', cert, '--tls-key', key], env);
      processes.push(first);
      const created = await ws.run(['token', 'create', '--role', 'runner'], {
        VALKYRIE_SERVER: first.url,
        VALKYRIE_TOKEN: admin,
        ...trusted,
      });
      expect(created.code, created.stderr).toBe(0);
      const workDir = join(ws.dir, '.valkyrie', `work-${protocol}`);
      const runner = startProcess(
        ws,
        ['runner', '--server', first.url, '--token', created.stdout.trim(), '--work-dir', workDir],
        { VALKYRIE_TOKEN: '', ...trusted },
      );
      processes.push(runner);
      await waitFor(
        () => /connected to/.test(runner.stdout()) || runner.child.exitCode !== null,
        20_000,
        'the runner to connect',
      );
      expect(runner.child.exitCode, runner.stderr()).toBeNull();

      first.child.kill('SIGTERM');
      await first.done;
      const port = new URL(first.url).port;
      const again = await startServer(
        ws,
        [
          '--data-dir',
          dataDir,
          '--port',
          port,
          '--tls-cert',
          join(other, 'cert.pem'),
          '--tls-key',
          join(other, 'key.pem'),
        ],
        env,
      );
      processes.push(again);
      expect(again.url).toBe(first.url);
      const result = await exitWithin(runner, 20_000);
      expect(result.code, result.stderr).toBe(78);
      expect(result.stderr.trimEnd().split('\n').at(-1)).toBe(
        `valkyrie runner: the server's TLS certificate is not trusted (self-signed certificate): ${first.url} — ` +
          `NODE_EXTRA_CA_CERTS=${cert} does not hold its CA (or could not be read: Node warns at start)`,
      );
      expect(result.stderr).not.toMatch(/^\s+at /m);
      again.child.kill('SIGTERM');
      await again.done;
    },
    60_000,
  );
});
