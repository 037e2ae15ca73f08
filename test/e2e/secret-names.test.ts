import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

const workflow = `jobs:
  show:
    runs-on: self-hosted
    steps:
      - run: echo "token=\${{ secrets.GITHUB_TOKEN }}"
`;

describe('secret and variable names on the command line', () => {
  const ws = new Workspace();
  let server: FakeApiServer;
  beforeAll(async () => {
    ws.write('ci.yml', workflow);
    server = await new FakeApiServer().start();
  });
  afterAll(async () => {
    await server.close();
    ws.dispose();
  });

  it('run refuses a name no workflow could use, saying which and why, exit 2, starting nothing', async () => {
    const result = await ws.run(['run', 'ci.yml', '--secret', 'bad name=v']);
    expect(result.stderr).toBe(
      'valkyrie: secret "bad name" (--secret) is refused: a secret name holds only letters (A-Z, a-z), digits and _, as on GitHub\n',
    );
    expect(result.code).toBe(2);
    ws.write('secrets.env', 'OK=1\nGITHUB_APP_ID=2\n');
    const fromFile = await ws.run(['run', 'ci.yml', '--secrets-file', 'secrets.env']);
    expect(fromFile.stderr).toBe(
      'valkyrie: secret "GITHUB_APP_ID" (secrets.env) is refused: a secret name does not start with GITHUB_, GitHub\'s own prefix (GITHUB_TOKEN excepted)\n',
    );
    expect(fromFile.code).toBe(2);
    expect((await ws.run(['runs', '--json'])).stdout.trim()).toBe('[]');
  });

  it('run takes GITHUB_TOKEN, which GitHub gives every run and Valkyrie does not', async () => {
    const result = await ws.run(['run', 'ci.yml', '--json', '--secret', 'GITHUB_TOKEN=t0k']);
    expect(result.code, result.stderr).toBe(0);
    expect(events(result.stdout).at(-1)).toMatchObject({ type: 'run.completed', status: 'succeeded' });
  });

  it('run refuses a variable name no workflow could use, the same way', async () => {
    const runsBefore = (await ws.run(['runs', '--json'])).stdout;
    const result = await ws.run(['run', 'ci.yml', '--var', 'my-region=eu']);
    expect(result.stderr).toBe(
      'valkyrie: variable "my-region" (--var) is refused: a variable name holds only letters (A-Z, a-z), digits and _, as on GitHub\n',
    );
    expect(result.code).toBe(2);
    expect((await ws.run(['runs', '--json'])).stdout).toBe(runsBefore);
  });

  it('submit refuses a bad variable name before anything is sent', async () => {
    const args = ['submit', 'ci.yml', '--server', server.url, '--token', 'tok', '--var', 'GITHUB_SHA=x'];
    const result = await ws.run(args);
    expect(result.stderr).toBe(
      'valkyrie: variable "GITHUB_SHA" (--var) is refused: a variable name does not start with GITHUB_, GitHub\'s own prefix\n',
    );
    expect(result.code).toBe(2);
    expect(server.requests).toEqual([]);
  });

  it('submit refuses it before anything is sent', async () => {
    const args = ['submit', 'ci.yml', '--server', server.url, '--token', 'tok', '--secret', '9LIVES=v'];
    const result = await ws.run(args);
    expect(result.stderr).toBe(
      'valkyrie: secret "9LIVES" (--secret) is refused: a secret name does not start with a digit, as on GitHub\n',
    );
    expect(result.code).toBe(2);
    expect(server.requests).toEqual([]);
  });
});
