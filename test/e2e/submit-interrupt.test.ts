import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { collect, valkyrieBin, Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';
import { waitFor } from './process-state.js';

const scriptMissing = spawnSync('script', ['--version']).error !== undefined;

let ws: Workspace;
let server: FakeApiServer;
let terminal: ChildProcess | undefined;
beforeEach(async () => {
  ws = new Workspace();
  ws.write(
    'ci.yml',
    'name: ci\njobs:\n  build:\n    runs-on: [self-hosted]\n    steps:\n      - run: echo hi\n',
  );
  // Incompressible and large enough that packing takes seconds on any machine here.
  for (let n = 0; n < 24; n++) ws.write(`data/part${n}.bin`, randomBytes(4 * 1024 ** 2).toString('base64'));
  server = await new FakeApiServer().start();
});
afterEach(async () => {
  terminal?.kill('SIGKILL');
  await server.close();
  ws.dispose();
});

describe.skipIf(scriptMissing)('valkyrie submit on a terminal, interrupted while packing', () => {
  it('ends the live line with a line of its own, removes the bundle, submits nothing and exits 130', async () => {
    const temp = join(ws.dir, 'tmp');
    mkdirSync(temp);
    const command = [process.execPath, valkyrieBin, 'submit', 'ci.yml'].map(shellWord).join(' ');
    // -e: script's exit is submit's; -f: what submit prints reaches script's stdout at once.
    terminal = spawn('script', ['-qfec', `exec ${command}`, '/dev/null'], {
      cwd: ws.dir,
      env: {
        ...process.env,
        NO_COLOR: '1',
        SHELL: '/bin/bash',
        TERM: 'xterm',
        TMPDIR: temp,
        VALKYRIE_SERVER: server.url,
        VALKYRIE_TOKEN: 'tok',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let printed = '';
    terminal.stdout?.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    const exited = new Promise<number | null>((done) => terminal?.on('close', (code) => done(code)));
    await waitFor(() => /\rPacking [^\r\n]* read/.test(printed), 30_000, 'the live packing line');
    // Ctrl-C on the terminal: its line discipline sends SIGINT to submit.
    terminal.stdin?.write('\u0003');
    const code = await exited;
    // The live line is wiped (CR, erase to end of line) before the one line that says why.
    const wiped = '\r\u001b[K';
    expect(printed).toMatch(
      /valkyrie: interrupted \(SIGINT\) before the run was submitted; nothing was submitted\r?\n$/,
    );
    expect(printed).toContain(`${wiped}valkyrie: interrupted (SIGINT) before the run was submitted`);
    expect(code).toBe(130);
    expect(readdirSync(temp)).toEqual([]);
    expect(server.bundles.size).toBe(0);
    expect(server.requests.filter((request) => request.method === 'POST')).toEqual([]);
  });
});

describe('valkyrie submit interrupted while a server does not answer its bundle check', () => {
  it('stops at once, exit 130, rather than waiting for the answer', async () => {
    const sockets: Socket[] = [];
    // Takes the connection and never answers, as a hung server or a black-holing proxy does.
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((listening) => silent.listen(0, '127.0.0.1', listening));
    const address = silent.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      const child = ws.start(['submit', 'ci.yml'], {
        VALKYRIE_SERVER: `http://127.0.0.1:${port}`,
        VALKYRIE_TOKEN: 'tok',
      });
      const result = collect(child);
      await waitFor(() => sockets.length > 0, 10_000, 'the bundle check');
      child.kill('SIGINT');
      const started = Date.now();
      const { code, stderr } = await result;
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(stderr).toBe(
        'valkyrie: interrupted (SIGINT) before the run was submitted; nothing was submitted\n',
      );
      expect(code).toBe(130);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('valkyrie submit whose output is a pipe that its reader closed while packing', () => {
  it('stops as git and gh do on a broken pipe: exit 141, the bundle removed, nothing submitted', async () => {
    const temp = join(ws.dir, 'tmp');
    mkdirSync(temp);
    const command = [process.execPath, valkyrieBin, 'submit', 'ci.yml'].map(shellWord).join(' ');
    // `head -1` reads the first line ("Packing 25 files …") and exits: every later line is a write
    // to a pipe with no reader (EPIPE).
    const { stdout } = await promisify(execFile)(
      'bash',
      ['-c', `${command} 2>&1 | head -1; echo "rc=\${PIPESTATUS[0]}"`],
      {
        cwd: ws.dir,
        env: {
          ...process.env,
          NO_COLOR: '1',
          TMPDIR: temp,
          VALKYRIE_SERVER: server.url,
          VALKYRIE_TOKEN: 'tok',
        },
      },
    );
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Packing 25 files/);
    expect(lines.at(-1)).toBe('rc=141');
    expect(stdout).not.toMatch(/Error|at /);
    expect(readdirSync(temp)).toEqual([]);
    expect(server.bundles.size).toBe(0);
    expect(server.requests.filter((request) => request.method === 'POST')).toEqual([]);
  }, 60_000);
});

describe('valkyrie submit whose stderr cannot be written while packing', () => {
  it('stops as for a closed pipe, with 74 (EX_IOERR): the bundle removed, nothing submitted', async () => {
    const temp = join(ws.dir, 'tmp');
    mkdirSync(temp);
    const command = [process.execPath, valkyrieBin, 'submit', 'ci.yml'].map(shellWord).join(' ');
    // The first progress line ("Packing 25 files …") goes to stderr, which /dev/full refuses (ENOSPC).
    const { stdout, stderr } = await promisify(execFile)(
      'bash',
      ['-c', `${command} 2>/dev/full; echo "rc=$?"`],
      {
        cwd: ws.dir,
        env: {
          ...process.env,
          NO_COLOR: '1',
          TMPDIR: temp,
          VALKYRIE_SERVER: server.url,
          VALKYRIE_TOKEN: 'tok',
        },
      },
    );
    expect({ stdout, stderr }).toEqual({ stdout: 'rc=74\n', stderr: '' });
    expect(readdirSync(temp)).toEqual([]);
    expect(server.bundles.size).toBe(0);
    expect(server.requests.filter((request) => request.method === 'POST')).toEqual([]);
  }, 60_000);
});
