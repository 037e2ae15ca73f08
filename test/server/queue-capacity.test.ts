import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

const threeJobs = [
  'jobs:',
  ...['a', 'b', 'c'].flatMap((job) => [`  ${job}:`, '    runs-on: x', '    steps: [{run: "true"}]']),
].join('\n');

const oneJob = 'jobs:\n  a:\n    runs-on: x\n    steps: [{run: "true"}]';

describe('valkyrie server: the queue capacity', () => {
  it('refuses a run whole (429 VK_QUEUE_FULL, Retry-After) past its queueCapacity, storing nothing, and takes one that fits', async () => {
    const { request } = await startTestServer({ queueCapacity: 3 });
    // No runner takes x: this job stays unfinished.
    expect((await request('POST', '/api/v1/runs', { body: { workflow: oneJob } })).status).toBe(201);
    const refused = await request('POST', '/api/v1/runs', { body: { workflow: threeJobs } });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.body).toMatchObject({
      code: 'VK_QUEUE_FULL',
      message: expect.stringMatching(/capacity of 3/),
    });
    expect(((await request('GET', '/api/v1/runs')).body as { runs: unknown[] }).runs).toHaveLength(1);
    const fits = await request('POST', '/api/v1/runs', { body: { workflow: oneJob } });
    expect(fits.status).toBe(201);
  });

  it('refuses a run larger than the whole queue with 422 and no Retry-After: it can never be queued', async () => {
    const { request } = await startTestServer({ queueCapacity: 2 });
    const refused = await request('POST', '/api/v1/runs', { body: { workflow: threeJobs } });
    expect(refused.status).toBe(422);
    expect(refused.headers['retry-after']).toBeUndefined();
    expect(refused.body).toMatchObject({
      code: 'VK_QUEUE_FULL',
      message: expect.stringMatching(
        /this run alone has 3 jobs, more than the queue capacity of 2 .*can never be queued/,
      ),
    });
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });
  });
});
