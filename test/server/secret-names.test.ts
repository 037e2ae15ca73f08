import { describe, expect, it } from 'vitest';
import { oneJobWorkflow, startTestServer } from './helpers.js';

describe('secret and variable names in a run request', () => {
  it('refuses a name no workflow could use, at its path, and creates nothing', async () => {
    const { request } = await startTestServer();
    const submit = (secrets: Record<string, string>) =>
      request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow, secrets } });
    expect(await submit({ OK: 'v', 'bad name': 'v' })).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        path: 'body.secrets.bad name',
        message:
          'body.secrets.bad name: a secret name holds only letters (A-Z, a-z), digits and _, as on GitHub',
      },
    });
    expect(await submit({ '2FA': 'v' })).toMatchObject({ status: 400, body: { path: 'body.secrets.2FA' } });
    expect(await submit({ GITHUB_APP_ID: 'v' })).toMatchObject({
      status: 400,
      body: { path: 'body.secrets.GITHUB_APP_ID', message: expect.stringContaining('GITHUB_') },
    });
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });
    expect((await submit({ GITHUB_TOKEN: 'v', api_key: 'v' })).status).toBe(201);
  });

  it('refuses a variable name no workflow could use, at its path, and creates nothing', async () => {
    const { request } = await startTestServer();
    const submit = (vars: Record<string, string>) =>
      request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow, vars } });
    expect(await submit({ REGION: 'eu', 'my-var': 'v' })).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        path: 'body.vars.my-var',
        message:
          'body.vars.my-var: a variable name holds only letters (A-Z, a-z), digits and _, as on GitHub',
      },
    });
    expect(await submit({ '': 'v' })).toMatchObject({ status: 400, body: { path: 'body.vars.' } });
    expect(await submit({ GITHUB_TOKEN: 'v' })).toMatchObject({
      status: 400,
      body: { path: 'body.vars.GITHUB_TOKEN' },
    });
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });
    expect((await submit({ REGION: 'eu', _x1: 'v' })).status).toBe(201);
  });

  // No process environment holds a NUL: every job would fail to start, with an error quoting the value.
  it('refuses a secret or var value with a NUL byte, at its path, and creates nothing', async () => {
    const { request } = await startTestServer();
    const submit = (body: Record<string, unknown>) =>
      request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow, ...body } });
    expect(await submit({ secrets: { TOKEN: 'hunter2\u0000' } })).toMatchObject({
      status: 400,
      body: { path: 'body.secrets.TOKEN', message: expect.stringContaining('NUL') },
    });
    expect(await submit({ vars: { REGION: 'eu\u0000' } })).toMatchObject({
      status: 400,
      body: { path: 'body.vars.REGION', message: expect.stringContaining('NUL') },
    });
    const refused = await submit({ secrets: { TOKEN: 'hunter2\u0000' } });
    expect(JSON.stringify(refused.body)).not.toContain('hunter2');
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });
  });

  it('checks the secrets of a re-run as those of a new run', async () => {
    const { request } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const runId = (created.body as { run: { id: string } }).run.id;
    const rerun = (secrets: Record<string, string>) =>
      request('POST', `/api/v1/runs/${runId}/rerun`, { body: { secrets } });
    expect(await rerun({ 'bad name': 'v' })).toMatchObject({
      status: 400,
      body: { code: 'VK_INVALID_REQUEST', path: 'body.secrets.bad name' },
    });
    expect(await rerun({ TOKEN: 'x\u0000' })).toMatchObject({
      status: 400,
      body: { path: 'body.secrets.TOKEN' },
    });
  });
});
