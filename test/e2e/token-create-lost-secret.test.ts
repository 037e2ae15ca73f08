import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { startTestServer } from '../server/helpers.js';
import { valkyrieBin, Workspace } from './cli.js';

const exec = promisify(execFile);

/**
 * A new token's secret is shown once, on stdout. When that write fails (`> /dev/full`), no one holds
 * the secret, yet the token worked: it is revoked, and stderr says so. Before, it stayed active.
 */
describe('valkyrie token create whose stdout cannot be written', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it.each([
    ['text', []],
    ['--json', ['--json']],
  ])('revokes the token whose secret it lost (%s) and exits 74', async (_name, flags) => {
    const server = await startTestServer();
    const admin = await server.token('admin');
    const command = [process.execPath, valkyrieBin, 'token', 'create', '--role', 'read', ...flags]
      .map(shellWord)
      .join(' ');
    const { stdout, stderr } = await exec('bash', ['-c', `${command} >/dev/full; echo "rc=$?" >&2`], {
      cwd: ws.dir,
      env: { ...process.env, NO_COLOR: '1', VALKYRIE_SERVER: server.server.url, VALKYRIE_TOKEN: admin },
    });
    expect(stdout).toBe('');
    const id =
      /valkyrie: the new read token's secret could not be written to stdout \(ENOSPC\); (\w+) is revoked/.exec(
        stderr,
      )?.[1];
    expect(id, stderr).toBeDefined();
    expect(stderr).toMatch(/rc=74\n$/);
    const listed = await server.request('GET', '/api/v1/tokens');
    const record = (listed.body as { tokens: { id: string; revokedAt?: number }[] }).tokens.find(
      (token) => token.id === id,
    );
    expect(record?.revokedAt).toBeDefined();
  });
});
