import { describe, expect, it } from 'vitest';
import { oneJobWorkflow, startTestServer } from './helpers.js';

interface RunPage {
  readonly runs: readonly { readonly id: string }[];
  readonly next?: string;
}

describe('GET /api/v1/runs pages', () => {
  it('pages back through every run with `next` and `cursor`, and the last page has no `next`', async () => {
    const { request } = await startTestServer();
    const submitted: string[] = [];
    for (let i = 0; i < 7; i++) {
      const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      submitted.push((created.body as { run: { id: string } }).run.id);
    }
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const query = cursor === undefined ? '' : `&cursor=${encodeURIComponent(cursor)}`;
      const response = await request('GET', `/api/v1/runs?limit=3${query}`);
      expect(response.status).toBe(200);
      const page = response.body as RunPage;
      pages.push(page.runs.map((run) => run.id));
      cursor = page.next;
      // A run submitted while paging is newer than every page after the first: it shifts none of them.
      if (pages.length === 1) await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    } while (cursor !== undefined);
    expect(pages).toEqual([submitted.slice(4).reverse(), submitted.slice(1, 4).reverse(), [submitted[0]]]);

    // A page that ends exactly at the oldest run is the last one.
    const whole = (await request('GET', '/api/v1/runs?limit=8')).body as RunPage;
    expect(whole.runs).toHaveLength(8);
    expect(whole).not.toHaveProperty('next');
  });

  it('refuses a cursor it did not give with 400 VK_INVALID_REQUEST naming query.cursor', async () => {
    const { request } = await startTestServer();
    for (let i = 0; i < 2; i++) await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { next } = (await request('GET', '/api/v1/runs?limit=1')).body as RunPage;
    if (next === undefined) throw new Error('two runs, pages of one: the first page has a next');
    const forged = [
      'not-a-cursor',
      '1',
      next.slice(0, -2),
      `${next}!`,
      Buffer.from('v1:before:07').toString('base64url'),
      Buffer.from('v2:before:1').toString('base64url'),
    ];
    for (const cursor of forged) {
      const response = await request('GET', `/api/v1/runs?cursor=${encodeURIComponent(cursor)}`);
      expect(response.status, cursor).toBe(400);
      expect(response.body).toEqual({
        code: 'VK_INVALID_REQUEST',
        message: expect.stringMatching(/^query\.cursor: is not a cursor this API gave/),
        path: 'query.cursor',
      });
    }
  });
});
