import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultTools,
  detectCapabilities,
  parseNvidiaSmi,
  usableMemory,
  versionIn,
} from '../../src/runner/capabilities.js';
import { isAlive, killGroup, readPid, waitFor } from '../e2e/process-state.js';

describe('runner capabilities', () => {
  const cleanups: (() => void | Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-caps-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  it('reports this machine: OS, CPU, memory, free disk, and the versions of tools that answer', async () => {
    const dir = tempDir();
    const caps = await detectCapabilities({
      workDir: dir,
      env: { PATH: process.env.PATH ?? '', DOCKER_HOST: 'tcp://127.0.0.1:1' },
      tools: [
        { name: 'node', command: process.execPath, args: ['--version'] },
        { name: 'bash', command: 'bash', args: ['--version'] },
        { name: 'missing', command: 'valkyrie-no-such-tool', args: ['--version'] },
        { name: 'failing', command: 'bash', args: ['-c', 'echo 1.2.3; exit 3'] },
      ],
    });
    expect(caps).toMatchObject({
      os: process.platform,
      arch: process.arch,
      cpuCount: availableParallelism(),
      memoryBytes: Math.min(totalmem(), process.constrainedMemory() || totalmem()),
      gpus: [],
    });
    expect(caps.tools.node).toBe(process.versions.node);
    expect(caps.tools.bash).toMatch(/^\d+\.\d+/);
    expect(Object.keys(caps.tools).sort()).toEqual(['bash', 'node']);
    expect(caps.diskFreeBytes).toBeGreaterThan(0);
    expect(caps.docker).toBeUndefined();
  });

  it('finds GPUs with nvidia-smi and a Docker API that answers /_ping on DOCKER_HOST', async () => {
    const dir = tempDir();
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const smi = join(bin, 'nvidia-smi');
    writeFileSync(smi, '#!/bin/sh\necho "NVIDIA A100-SXM4-40GB, 40960 MiB"\necho "NVIDIA T4, 15360 MiB"\n');
    chmodSync(smi, 0o755);
    const socket = join(dir, 'docker.sock');
    const server: Server = createServer((request, response) => {
      if (request.url === '/_ping') response.writeHead(200, { 'Api-Version': '1.43' }).end('OK');
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const caps = await detectCapabilities({
      workDir: dir,
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, DOCKER_HOST: `unix://${socket}` },
      tools: [],
    });
    expect(caps.gpus).toEqual([
      { name: 'NVIDIA A100-SXM4-40GB', memoryMiB: 40960 },
      { name: 'NVIDIA T4', memoryMiB: 15360 },
    ]);
    expect(caps.docker).toEqual({ endpoint: `unix://${socket}`, apiVersion: '1.43' });
  });

  const tlsFixtures = join(import.meta.dirname, '..', 'fixtures', 'tls');

  /** A DOCKER_CERT_PATH in `dir`: each file named there a copy of the TLS fixture named. */
  function dockerCertPath(dir: string, files: Readonly<Record<string, string>>): string {
    const certs = join(dir, 'certs');
    mkdirSync(certs);
    for (const [name, fixture] of Object.entries(files))
      copyFileSync(join(tlsFixtures, fixture), join(certs, name));
    return certs;
  }

  it('pings a Docker API over TLS as the docker CLI does: DOCKER_TLS_VERIFY, certificates in DOCKER_CERT_PATH', async () => {
    const dir = tempDir();
    // The self-signed certificate is its own CA; the client needs no certificate of its own here.
    const certs = dockerCertPath(dir, { 'ca.pem': 'cert.pem' });
    const server = createHttpsServer(
      { cert: readFileSync(join(tlsFixtures, 'cert.pem')), key: readFileSync(join(tlsFixtures, 'key.pem')) },
      (request, response) => {
        if (request.url === '/_ping') response.writeHead(200, { 'Api-Version': '1.44' }).end('OK');
        else response.writeHead(404).end();
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const endpoint = `tcp://127.0.0.1:${port}`;
    const env = { PATH: '', DOCKER_HOST: endpoint, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs };
    const warnings: string[] = [];
    const warn = (line: string) => warnings.push(line);
    const caps = await detectCapabilities({ workDir: dir, env, tools: [], warn });
    expect(caps.docker).toEqual({ endpoint, apiVersion: '1.44' });
    // No client certificate, and none needed: a Docker that answers is not warned about.
    expect(warnings).toEqual([]);
    // Verified: without the CA that signed it, the daemon is not taken as reachable, and the runner says why.
    rmSync(join(certs, 'ca.pem'));
    expect((await detectCapabilities({ workDir: dir, env, tools: [], warn })).docker).toBeUndefined();
    expect(warnings).toEqual([
      `Docker is left out of the capabilities: ${endpoint} gave no answer over TLS (DOCKER_TLS_VERIFY is set), ` +
        `and DOCKER_CERT_PATH (${certs}) has no ca.pem, cert.pem or key.pem`,
    ]);
  });

  it('names the TLS files a Docker left out lacks: those its settings need, each unreadable one with its error', async () => {
    const dir = tempDir();
    const certs = dockerCertPath(dir, { 'ca.pem': 'cert.pem' });
    mkdirSync(join(certs, 'key.pem'));
    const endpoint = 'tcp://127.0.0.1:1';
    const lead = `Docker is left out of the capabilities: ${endpoint} gave no answer over TLS`;
    const noted = async (env: NodeJS.ProcessEnv) => {
      const warnings: string[] = [];
      await detectCapabilities({ workDir: dir, env, tools: [], warn: (line) => warnings.push(line) });
      return warnings;
    };
    const tcp = { DOCKER_HOST: endpoint, DOCKER_CERT_PATH: certs };
    expect(await noted({ ...tcp, DOCKER_TLS_VERIFY: '1' })).toEqual([
      `${lead} (DOCKER_TLS_VERIFY is set), and DOCKER_CERT_PATH (${certs}) has no cert.pem; cannot read key.pem (EISDIR)`,
    ]);
    // DOCKER_TLS alone does not verify the daemon: no ca.pem is needed.
    rmSync(join(certs, 'ca.pem'));
    expect(await noted({ ...tcp, DOCKER_TLS: '1' })).toEqual([
      `${lead} (DOCKER_TLS is set), and DOCKER_CERT_PATH (${certs}) has no cert.pem; cannot read key.pem (EISDIR)`,
    ]);
    // Without TLS, or on a unix socket, the files are not read: nothing to say of them.
    expect(await noted(tcp)).toEqual([]);
    expect(
      await noted({ ...tcp, DOCKER_HOST: `unix://${join(dir, 'none.sock')}`, DOCKER_TLS_VERIFY: '1' }),
    ).toEqual([]);
  });

  it('leaves only Docker out for Docker settings it cannot use: a client key not of its certificate, a bad DOCKER_HOST', async () => {
    const dir = tempDir();
    // Another certificate's key, as after a cert.pem was renewed and its key.pem was not copied.
    const certs = dockerCertPath(dir, {
      'ca.pem': 'cert.pem',
      'cert.pem': 'cert.pem',
      'key.pem': 'expired-key.pem',
    });
    const node = [{ name: 'node', command: process.execPath, args: ['--version'] }];
    const tlsEnv = { DOCKER_HOST: 'tcp://127.0.0.1:1', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs };
    for (const env of [tlsEnv, { DOCKER_HOST: 'tcp://127.0.0.1:99999' }, { DOCKER_HOST: 'tcp://' }]) {
      const caps = await detectCapabilities({ workDir: dir, env, tools: node });
      expect(caps.tools).toEqual({ node: process.versions.node });
      expect(caps.docker).toBeUndefined();
    }
  });

  // As a container's arbitrary uid without a passwd entry, and without HOME: os.homedir() throws, so
  // there is no ~/.docker to read. The ping then reads no file and fails; the rest is detected as ever.
  // Run as such a user (setpriv, as root), with the built module (npm run build).
  const asStranger = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
  it.skipIf(!asStranger)(
    'leaves only Docker out when DOCKER_CERT_PATH is unset and the user has no home directory',
    () => {
      const built = join(import.meta.dirname, '../../dist/runner/capabilities.js');
      const script = `import { homedir } from 'node:os';
        import { detectCapabilities } from ${JSON.stringify(built)};
        try { homedir(); process.stdout.write('it has a home directory; '); } catch {}
        const caps = await detectCapabilities({ workDir: '/', tools: [], warn: (line) => process.stdout.write(line) });
        process.stdout.write(JSON.stringify({ cpus: caps.cpuCount > 0, docker: caps.docker }));`;
      const user = ['--reuid', '64123', '--regid', '64123', '--clear-groups'];
      const run = spawnSync('setpriv', [...user, process.execPath, '--input-type=module', '-e', script], {
        cwd: '/',
        encoding: 'utf8',
        env: { PATH: process.env.PATH, DOCKER_HOST: 'tcp://127.0.0.1:1', DOCKER_TLS_VERIFY: '1' },
      });
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('{"cpus":true}');
    },
  );

  /** A `bin/NAME` script in `dir` that runs `body` (sh), and the PATH that finds it first. */
  function fakeTool(dir: string, name: string, body: string): string {
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
    return `${bin}:${process.env.PATH ?? ''}`;
  }

  const javaProbe = defaultTools.filter((probe) => probe.name === 'java');

  it("reads java's version after a JVM notice, and a release without an update number (JEP 223)", async () => {
    const dir = tempDir();
    // What an OpenJDK 21 GA prints with JAVA_TOOL_OPTIONS set, on stderr, as the JVM does.
    const path = fakeTool(
      dir,
      'java',
      `printf '%s\\n' 'Picked up JAVA_TOOL_OPTIONS: -Dfile.encoding=UTF-8' 'openjdk version "21" 2023-09-19' ` +
        `'OpenJDK Runtime Environment (build 21+35-2513)' >&2`,
    );
    const caps = await detectCapabilities({ workDir: dir, env: { PATH: path }, tools: javaProbe });
    expect(caps.tools).toEqual({ java: '21' });
  });

  it.skipIf(!commandExists('java'))(
    "reads the installed java's version with JAVA_TOOL_OPTIONS set",
    async () => {
      const env = { PATH: process.env.PATH ?? '', JAVA_TOOL_OPTIONS: '-Dfile.encoding=UTF-8' };
      // The case itself: the JVM's notice comes first, before the version.
      expect(spawnSync('java', ['-version'], { env, encoding: 'utf8' }).stderr).toMatch(
        /^Picked up JAVA_TOOL_OPTIONS/,
      );
      const caps = await detectCapabilities({ workDir: tempDir(), env, tools: javaProbe });
      expect(caps.tools.java).toMatch(/^\d+(\.\d+)*/);
    },
  );

  it('asks the tools in the work dir, where jobs run: a version file there (pyenv, asdf) counts', async () => {
    const dir = tempDir();
    // As a pyenv shim picks the Python of the nearest .python-version, else the global one.
    const path = fakeTool(
      dir,
      'python3',
      'if [ -f .python-version ]; then echo "Python $(cat .python-version)"; else echo "Python 3.11.7"; fi',
    );
    writeFileSync(join(dir, '.python-version'), '3.8.18\n');
    const caps = await detectCapabilities({
      workDir: dir,
      env: { PATH: path },
      tools: [{ name: 'python3', command: 'python3', args: ['--version'] }],
    });
    expect(caps.tools).toEqual({ python3: '3.8.18' });
  });

  it('stops all of a tool that does not answer in time, not only the process it started', async () => {
    const dir = tempDir();
    const pidFile = join(dir, 'sleep.pid');
    // A wrapper script whose own child holds the output open, as a hung shim's would.
    const path = fakeTool(dir, 'hung', `sleep 60 &\necho $! > ${pidFile}\nwait`);
    const started = Date.now();
    const caps = await detectCapabilities({
      workDir: dir,
      env: { PATH: path },
      timeoutMs: 500,
      tools: [{ name: 'hung', command: 'hung', args: ['--version'] }],
    });
    expect(caps.tools).toEqual({});
    expect(Date.now() - started).toBeLessThan(5_000);
    const sleeper = readPid(pidFile);
    cleanups.push(() => killGroup(sleeper));
    await waitFor(
      () => sleeper !== undefined && !isAlive(sleeper),
      2_000,
      `the hung tool's child ${sleeper} to end`,
    );
  });

  it('counts the CPUs the runner may run on: one under taskset -c 0', () => {
    // A real process pinned to one CPU, detecting with the built module (npm run build).
    const built = join(import.meta.dirname, '../../dist/runner/capabilities.js');
    const script = `import { detectCapabilities } from ${JSON.stringify(built)};
      const caps = await detectCapabilities({ workDir: process.cwd(), tools: [] });
      process.stdout.write(String(caps.cpuCount));`;
    const pinned = spawnSync('taskset', ['-c', '0', process.execPath, '--input-type=module', '-e', script], {
      cwd: tempDir(),
      encoding: 'utf8',
    });
    expect(pinned.stderr).toBe('');
    expect(pinned.stdout).toBe('1');
  });

  it("reports a container's memory limit when it is below the machine's memory", () => {
    const gib = 1024 ** 3;
    expect(usableMemory(16 * gib, 2 * gib)).toBe(2 * gib);
    // No limit: 0 (unknown), or Node 20's reading of cgroup's unlimited value, 2^64.
    expect(usableMemory(16 * gib, 0)).toBe(16 * gib);
    expect(usableMemory(16 * gib, 2 ** 64)).toBe(16 * gib);
    // A limit above the machine's memory never binds.
    expect(usableMemory(16 * gib, 32 * gib)).toBe(16 * gib);
  });

  it('reads version numbers as tools print them', () => {
    expect(versionIn('git version 2.39.5')).toBe('2.39.5');
    expect(versionIn('v20.19.0')).toBe('20.19.0');
    expect(versionIn('GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)')).toBe('5.2.15');
    expect(versionIn('go version go1.22.1 linux/amd64')).toBe('1.22.1');
    expect(versionIn('openjdk version "17.0.9" 2023-10-17')).toBe('17.0.9');
    expect(versionIn('Python 3.11.2')).toBe('3.11.2');
    expect(versionIn('no version here')).toBeUndefined();
    expect(parseNvidiaSmi('Tesla K80, N/A\n\n')).toEqual([{ name: 'Tesla K80' }]);
  });
});

describe('detectCapabilities, aborted while probes are starting', () => {
  it('never signals its own process group (a failed spawn has no pid to kill)', async () => {
    let terminated = 0;
    const onTerm = () => {
      terminated++;
    };
    process.on('SIGTERM', onTerm);
    try {
      for (let round = 0; round < 5; round++) {
        const abort = new AbortController();
        // An empty PATH: every tool probe's spawn fails (ENOENT), and the abort lands while it does.
        const detecting = detectCapabilities({
          workDir: tmpdir(),
          env: { PATH: '/nonexistent' },
          signal: abort.signal,
        });
        abort.abort();
        await detecting;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off('SIGTERM', onTerm);
    }
    expect(terminated).toBe(0);
  });
});

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
