import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, collect, valkyrieBin, Workspace } from './cli.js';
import { startServer } from './fleet-processes.js';

/**
 * `valkyrie server` with its stderr at /dev/full: the admin token a first start generates is printed
 * there, once, and that write fails. Before, the token stayed active, the server served on, and the
 * next start found a usable admin token no one had ever seen: a server nobody could manage.
 */
describe('valkyrie server whose first admin token cannot be shown', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  /** The server with stderr at /dev/full, killed after `ms` unless it ended (a server that serves on). */
  const serveWithFullStderr = (
    dataDir: string,
    env: Record<string, string> = {},
    ms = 8_000,
  ): Promise<CliResult> => {
    const full = openSync('/dev/full', 'w');
    const { FORCE_COLOR: _forced, ...inherited } = process.env;
    const child = spawn(
      process.execPath,
      [valkyrieBin, 'server', '--port', '0', '--data-dir', dataDir, '--drain-timeout', '1s'],
      { cwd: ws.dir, env: { ...inherited, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', full] },
    );
    closeSync(full);
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    return collect(child).finally(() => clearTimeout(timer));
  };

  it('revokes it, says so on stdout and exits 74; the next start makes and prints another', async () => {
    const lost = await serveWithFullStderr('state');
    expect(lost.stdout).toMatch(
      /^valkyrie server: the first admin token \(id \w+\) could not be written to stderr \(ENOSPC\); it is revoked and the server stops: start it again with a writable stderr to get a new one, or set VALKYRIE_ADMIN_TOKEN\n$/,
    );
    expect(lost.code).toBe(74);
    const lostId = /\(id (\w+)\)/.exec(lost.stdout)?.[1];

    const again = await startServer(ws, ['--data-dir', 'state']);
    try {
      expect(again.stderr()).toContain('Created the first admin token');
      const admin = again.stderr().trim().split('\n').at(-1) ?? '';
      const listed = await fetch(`${again.url}/api/v1/tokens`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      expect(listed.status).toBe(200);
      const tokens = ((await listed.json()) as { tokens: { id: string; revokedAt?: number }[] }).tokens;
      expect(tokens.find((token) => token.id === lostId)?.revokedAt).toBeDefined();
    } finally {
      again.child.kill('SIGTERM');
      await again.done;
    }
  }, 30_000);

  it('exits 141 when stderr is a pipe whose reader left, as for any output closed early', async () => {
    const { FORCE_COLOR: _forced, ...inherited } = process.env;
    const child = spawn(
      process.execPath,
      [valkyrieBin, 'server', '--port', '0', '--data-dir', 'closed-state', '--drain-timeout', '1s'],
      { cwd: ws.dir, env: { ...inherited, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // The reader of stderr leaves before the server starts: its first write there finds EPIPE.
    child.stderr?.destroy();
    const timer = setTimeout(() => child.kill('SIGKILL'), 8_000);
    const result = await collect(child).finally(() => clearTimeout(timer));
    expect(result.stdout).toMatch(
      /^valkyrie server: the first admin token \(id \w+\) could not be written to stderr \(EPIPE\); it is revoked/,
    );
    expect(result.code).toBe(141);
  }, 30_000);

  it('serves as before with VALKYRIE_ADMIN_TOKEN, which it has no need to show', async () => {
    const result = await serveWithFullStderr(
      'env-state',
      { VALKYRIE_ADMIN_TOKEN: 'an-admin-token-of-my-own' },
      3_000,
    );
    // Killed while serving, after saying it listens.
    expect(result.signal).toBe('SIGKILL');
    expect(result.stdout).toMatch(/^valkyrie server listening on http:\/\/127\.0\.0\.1:\d+\n$/);
  }, 30_000);
});
