import { afterAll, expect, it } from 'vitest';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { collect, statuses, Workspace } from './cli.js';
import { waitFor } from './process-state.js';

const workflow = `name: cut
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: for i in 1 2 3 4 5 6; do echo line $i; sleep 0.5; done
  b:
    needs: a
    runs-on: ubuntu-latest
    steps: [{ run: echo b }]
`;

describeOnPostgres('a Postgres server lost in the middle of a run', () => {
  const ws = new Workspace();
  const schema = uniqueSchema();
  afterAll(async () => {
    ws.dispose();
    await dropSchema(schema);
  });

  it('ends the run with exit 69 and one line saying what to do; resume finishes it', async () => {
    const proxy = await startProxy();
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    through.searchParams.set('schema', schema);
    const file = ws.write('cut.yml', workflow);
    const child = ws.start(['run', file, '--db', through.href]);
    const result = collect(child);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    await waitFor(() => stdout.includes('line 2'), 10_000, 'job a to be running');
    await proxy.stop();
    const { code, stderr } = await result;
    expect(code).toBe(69);
    // Whichever statement meets the loss first: one on a connection that broke, or one that reconnects.
    const cause = `(could not connect to Postgres at 127\\.0\\.0\\.1:${proxy.port}: connection refused \\(is the server running and listening there\\?\\)|lost the connection to Postgres \\([^\\n]+\\))`;
    const advice = 'Run 1 was left interrupted: try again with `valkyrie resume 1`\\.';
    expect(stderr).toMatch(new RegExp(`^valkyrie: could not [^\\n]+: ${cause}\\. ${advice}\\n$`));
    const direct = `${postgresUrl}?schema=${schema}`;
    expect((await ws.run(['show', '1', '--db', direct])).stdout).toContain('interrupted');
    const resumed = await ws.run(['resume', '1', '--json', '--db', direct]);
    expect(resumed.code).toBe(0);
    expect(statuses(resumed.stdout)).toEqual({ a: 'succeeded', b: 'succeeded' });
  });
});
