import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

const workflow = `jobs:
  show:
    runs-on: self-hosted
    steps:
      - run: echo "token=\${{ secrets.GITHUB_TOKEN }}"
`;

/** Fails until the file `fixed` exists; writes what secrets.EXTRA was, so a re-run shows what it was given. */
const failsUntilFixed = `jobs:
  check:
    runs-on: self-hosted
    steps:
      - run: echo "extra=\${{ secrets.EXTRA }}" > extra.txt; [ -f fixed ]
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

  it('rerun and resume refuse a bad name as run does, before the run is touched', async () => {
    ws.write('fails.yml', failsUntilFixed);
    const first = await ws.run(['run', 'fails.yml', '--json']);
    expect(first.code).toBe(1);
    const id = String(events(first.stdout)[0]?.runId);
    const shown = async () => JSON.parse((await ws.run(['show', id, '--json'])).stdout) as object;
    const before = await shown();

    const rerun = await ws.run(['rerun', id, '--secret', '1BAD=v']);
    expect(rerun.stderr).toBe(
      'valkyrie: secret "1BAD" (--secret) is refused: a secret name does not start with a digit, as on GitHub\n',
    );
    expect(rerun.code).toBe(2);
    ws.write('rerun.env', 'EXTRA=1\nGITHUB_APP_ID=2\n');
    const fromFile = await ws.run(['rerun', id, '--all', '--secrets-file', 'rerun.env']);
    expect(fromFile.stderr).toBe(
      'valkyrie: secret "GITHUB_APP_ID" (rerun.env) is refused: a secret name does not start with GITHUB_, GitHub\'s own prefix (GITHUB_TOKEN excepted)\n',
    );
    expect(fromFile.code).toBe(2);
    const resume = await ws.run(['resume', id, '--secret', 'bad name=v']);
    expect(resume.stderr).toBe(
      'valkyrie: secret "bad name" (--secret) is refused: a secret name holds only letters (A-Z, a-z), digits and _, as on GitHub\n',
    );
    expect(resume.code).toBe(2);
    expect(await shown()).toEqual(before);
  });

  it('rerun gives a secret the run was not started with to its jobs, as run gives one no step uses', async () => {
    // Not refused as extra: run takes any well-named secret, whether or not the workflow uses it.
    const first = await ws.run(['run', 'fails.yml', '--json', '--secret', 'UNUSED=x']);
    expect(first.code).toBe(1);
    const id = String(events(first.stdout)[0]?.runId);
    writeFileSync(join(ws.dir, 'fixed'), '');
    const rerun = await ws.run(['rerun', id, '--secret', 'UNUSED=x', '--secret', 'EXTRA=given']);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(readFileSync(join(ws.dir, 'extra.txt'), 'utf8')).toBe('extra=given\n');
  });

  it('rerun --server refuses a bad name as submit does, before anything is sent', async () => {
    const flags = ['--server', server.url, '--token', 'tok'];
    const rerun = await ws.run(['rerun', '1', '--secret', '9LIVES=v', ...flags]);
    expect(rerun.stderr).toBe(
      'valkyrie: secret "9LIVES" (--secret) is refused: a secret name does not start with a digit, as on GitHub\n',
    );
    expect(rerun.code).toBe(2);
    ws.write('server.env', 'github_token=ok\nGitHub_Sha=x\n');
    const fromFile = await ws.run(['rerun', '1', '--secrets-file', 'server.env', '--follow', ...flags]);
    expect(fromFile.stderr).toBe(
      'valkyrie: secret "GitHub_Sha" (server.env) is refused: a secret name does not start with GITHUB_, GitHub\'s own prefix (GITHUB_TOKEN excepted)\n',
    );
    expect(fromFile.code).toBe(2);
    expect(server.requests).toEqual([]);
  });
});
