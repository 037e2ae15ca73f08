import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

describe('POST /api/v1/runners/register: labels and capacity as `valkyrie runner` takes them', () => {
  it('refuses a label no runner can have and a capacity past 1024, naming the field; takes the bounds', async () => {
    const { request } = await startTestServer();
    const registration = await request('POST', '/api/v1/tokens', { body: { role: 'runner' } });
    const { token } = registration.body as { token: string };
    const register = (body: object) => request('POST', '/api/v1/runners/register', { body, token });
    for (const label of ['a b', 'gpu,linux', ' gpu', 'tab\there'])
      expect(await register({ labels: ['linux', label] })).toMatchObject({
        status: 400,
        body: {
          code: 'VK_INVALID_REQUEST',
          path: 'body.labels.1',
          message: expect.stringContaining('comma'),
        },
      });
    expect(await register({ capacity: 1025 })).toMatchObject({
      status: 400,
      body: { code: 'VK_INVALID_REQUEST', path: 'body.capacity', message: expect.stringContaining('1024') },
    });
    // The protocol's register holds them to the same schemas (register-message-limits.test.ts).
    expect(await register({ name: '  ' })).toMatchObject({
      status: 400,
      body: { code: 'VK_INVALID_REQUEST', path: 'body.name', message: expect.stringContaining('blank') },
    });
    expect(await register({ labels: Array.from({ length: 201 }, (_, index) => `l${index}`) })).toMatchObject({
      status: 400,
      body: { code: 'VK_INVALID_REQUEST', path: 'body.labels', message: expect.stringContaining('200') },
    });
    expect((await register({ labels: ['self-hosted', 'gpu:a100'], capacity: 1024 })).status).toBe(201);
  });
});
