import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

const threeJobs = [
  'jobs:',
  ...['a', 'b', 'c'].flatMap((job) => [`  ${job}:`, '    runs-on: x', '    steps: [{run: "true"}]']),
].join('\n');

describe('valkyrie server: the queue capacity', () => {
  it('refuses a run whole (429 VK_QUEUE_FULL) past its queueCapacity, storing nothing, and takes one that fits', async () => {
    const { request } = await startTestServer({ queueCapacity: 2 });
    const refused = await request('POST', '/api/v1/runs', { body: { workflow: threeJobs } });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      code: 'VK_QUEUE_FULL',
      message: expect.stringMatching(/capacity of 2/),
    });
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });
    const fits = await request('POST', '/api/v1/runs', {
      body: { workflow: 'jobs:\n  a:\n    runs-on: x\n    steps: [{run: "true"}]' },
    });
    expect(fits.status).toBe(201);
  });
});
