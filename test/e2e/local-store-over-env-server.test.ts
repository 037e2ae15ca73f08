import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/** A shell that exports VALKYRIE_SERVER (as the README suggests) and a command naming a local store. */
describe('--state-dir or --db with VALKYRIE_SERVER set', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  // Nothing listens there: a command that asked the server would fail to connect.
  const env = { VALKYRIE_SERVER: 'http://127.0.0.1:2', VALKYRIE_TOKEN: 'vkt.none.none' };

  it('acts on the local store the command names, not on the server', async () => {
    const file = ws.write(
      'one.yml',
      'name: one\njobs:\n  a: { runs-on: ubuntu-latest, steps: [{ run: echo hi }] }\n',
    );
    expect((await ws.run(['run', file, '--state-dir', 'st'], env)).code).toBe(0);
    const runs = await ws.run(['runs', '--state-dir', 'st', '--json'], env);
    expect(runs.stderr).toBe('');
    expect(JSON.parse(runs.stdout)).toMatchObject([{ status: 'succeeded' }]);
    const cancel = await ws.run(['cancel', '1', '--state-dir', 'st'], env);
    expect(cancel.stderr).toContain('already finished');
    expect(cancel.stderr).not.toContain('server');
  });

  it('refuses --server with a local store flag: they name two stores', async () => {
    const refused = 'valkyrie: --server names a server, and --state-dir or --db a local store: give one';
    const both = await ws.run(['runs', '--server', 'http://127.0.0.1:2', '--state-dir', 'st']);
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe(refused);
    // Also when the flag repeats the exported server: a typed --server is never quietly dropped.
    const same = await ws.run(['show', '1', '--server', env.VALKYRIE_SERVER, '--state-dir', 'st'], env);
    expect(same.code).toBe(2);
    expect(same.stderr.trim()).toBe(refused);
  });
});
