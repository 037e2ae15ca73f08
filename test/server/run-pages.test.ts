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

  it('filters by status and workflow, and pages within the filter', async () => {
    const { request } = await startTestServer();
    const submit = async (path: string) => {
      const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow, path } });
      return (created.body as { run: { id: string } }).run.id;
    };
    const [a, b, c, d] = [
      await submit('.github/workflows/ci.yml'),
      await submit('deploy.yml'),
      await submit('.github/workflows/ci.yml'),
      await submit('.github/workflows/ci.yml'),
    ];
    for (const id of [a, c]) expect((await request('POST', `/api/v1/runs/${id}/cancel`)).status).toBe(202);
    const ids = async (query: string) => {
      const response = await request('GET', `/api/v1/runs?${query}`);
      expect(response.status, query).toBe(200);
      return response.body as RunPage;
    };
    expect((await ids('status=cancelled')).runs.map((run) => run.id)).toEqual([c, a]);
    expect((await ids('status=running,cancelled')).runs).toHaveLength(4);
    expect((await ids('workflow=deploy.yml')).runs.map((run) => run.id)).toEqual([b]);
    expect((await ids('workflow=ci.yml&status=running')).runs.map((run) => run.id)).toEqual([d]);
    // By the name given in the file, too; `ci` is neither the name nor the end of a path.
    expect((await ids('workflow=hello')).runs).toHaveLength(4);
    expect((await ids('workflow=ci')).runs).toEqual([]);
    const first = await ids('workflow=ci.yml&limit=2');
    expect(first.runs.map((run) => run.id)).toEqual([d, c]);
    if (first.next === undefined) throw new Error('three runs of ci.yml, pages of two: the first has a next');
    const second = await ids(`workflow=ci.yml&limit=2&cursor=${encodeURIComponent(first.next)}`);
    expect(second).toEqual({ runs: [expect.objectContaining({ id: a })] });
  });

  it('refuses an unknown status or an empty workflow with 400 naming the parameter', async () => {
    const { request } = await startTestServer();
    const status = await request('GET', '/api/v1/runs?status=failed,nope');
    expect(status).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        message:
          'query.status: has "nope": a run\'s status is one of queued, running, succeeded, failed, cancelled',
        path: 'query.status',
      },
    });
    const workflow = await request('GET', '/api/v1/runs?workflow=');
    expect(workflow).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        message: 'query.workflow: must not be empty',
        path: 'query.workflow',
      },
    });
  });
});
