import { describe, expect, it } from 'vitest';
import { oneJobWorkflow, startTestServer } from './helpers.js';

describe('secret names in a run request', () => {
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
});
