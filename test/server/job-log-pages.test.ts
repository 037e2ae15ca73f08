import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readServerSentEvents } from '../../src/cli/sse-reader.js';
import { asJobId, asRunId } from '../../src/core/ids.js';
import { jobLogText } from '../../src/server/job-log-pages.js';
import type { LogLine } from '../../src/store/logs.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { adminToken, runningJob, startTestServer, waitForRunStatus } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** More lines than three pages of readAfter's default (1000), the last one short. */
const texts = Array.from({ length: 3500 }, (_, i) => `line ${i}`);

/** A server on stores this test holds (to spy on), with a job that printed `texts` and ended. */
async function endedJobWithLongLog() {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-log-pages-')), 'valkyrie.db'));
  const logged: unknown[] = [];
  const live = await startTestServer({ stores, logError: (error) => logged.push(error) });
  const job = await runningJob(live);
  job.logAll(texts);
  job.succeed();
  await waitForRunStatus(live.request, job.runId, 'succeeded');
  const url = (follow: boolean) =>
    `${live.server.url}/api/v1/runs/${job.runId}/logs?job=${job.jobId}${follow ? '&follow=1' : ''}`;
  return { live, job, stores, logged, url };
}

const get = (url: string) => fetch(url, { headers: { authorization: `Bearer ${adminToken}` } });

async function followed(response: Response): Promise<[string, unknown][]> {
  const events: [string, unknown][] = [];
  if (response.body === null) throw new Error('no body');
  for await (const event of readServerSentEvents(response.body as unknown as AsyncIterable<Uint8Array>))
    events.push([event.event, JSON.parse(event.data)]);
  return events;
}

describe("GET /api/v1/runs/:id/logs of a job's log longer than a page", () => {
  it('sends it whole and in order, as text and followed, a page at a time and never read whole', async () => {
    const { stores, url } = await endedJobWithLongLog();
    const read = vi.spyOn(stores.logs, 'read');
    const readAfter = vi.spyOn(stores.logs, 'readAfter');

    const text = await get(url(false));
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const lines = (await text.text()).split('\n');
    expect(lines[0]).toMatch(/^running on runner /);
    expect(lines.slice(1)).toEqual([...texts, '']);

    const events = await followed(await get(url(true)));
    expect(events.slice(1, -1).map(([name, data]) => [name, (data as { text: string }).text])).toEqual(
      texts.map((line) => ['log', line]),
    );
    expect(events.at(-1)).toEqual([
      'end',
      expect.objectContaining({ type: 'job.completed', status: 'succeeded' }),
    ]);

    expect(read).not.toHaveBeenCalled();
    // 3501 lines: four pages each way.
    expect(readAfter).toHaveBeenCalledTimes(8);
  });

  it("follows only the attempt it read: lines a re-run adds meanwhile are not sent under that attempt's end", async () => {
    const { stores, job, url } = await endedJobWithLongLog();
    // As a re-run that started while the stream was being read: lines of the job's next attempt.
    const runId = asRunId(job.runId);
    const jobId = asJobId(job.jobId);
    await stores.logs.append(
      ['again 1', 'again 2'].map((text) => ({
        runId,
        jobId,
        stepIndex: 0,
        stream: 'stdout',
        at: 3,
        text,
        jobAttempt: 2,
      })),
    );
    const events = await followed(await get(url(true)));
    const sent = events.filter(([name]) => name === 'log').map(([, data]) => (data as { text: string }).text);
    expect(sent.slice(1)).toEqual(texts);
    expect(events.at(-1)).toEqual(['end', expect.objectContaining({ status: 'succeeded' })]);
  });

  it('cuts the text answer when the store fails midway, so the client cannot take it for the whole log', async () => {
    const { stores, logged, url } = await endedJobWithLongLog();
    const readAfter = stores.logs.readAfter.bind(stores.logs);
    let calls = 0;
    vi.spyOn(stores.logs, 'readAfter').mockImplementation((...args) =>
      ++calls === 2 ? Promise.reject(new Error('disk gone')) : readAfter(...args),
    );

    const text = await get(url(false));
    expect(text.status).toBe(200);
    await expect(text.text()).rejects.toThrow();
    expect(logged).toEqual([expect.objectContaining({ message: 'disk gone' })]);

    calls = 0;
    const stream = await get(url(true));
    expect(stream.status).toBe(200);
    await expect(followed(stream)).rejects.toThrow();
    expect(logged).toHaveLength(2);
  });

  it('answers 500 when the store fails on the first page, before anything is sent', async () => {
    const { live, job, stores } = await endedJobWithLongLog();
    vi.spyOn(stores.logs, 'readAfter').mockRejectedValue(new Error('disk gone'));
    for (const follow of ['', '&follow=1']) {
      const answer = await live.request('GET', `/api/v1/runs/${job.runId}/logs?job=${job.jobId}${follow}`);
      expect(answer.status).toBe(500);
    }
  });
});

describe('jobLogText', () => {
  it('reads the next page only as the client takes the text', async () => {
    let pulled = 0;
    async function* pages(): AsyncGenerator<readonly LogLine[]> {
      for (let page = 0; page < 50; page++) {
        pulled++;
        yield Array.from({ length: 1000 }, (_, i) => ({
          runId: asRunId('r'),
          jobId: asJobId('r.1'),
          stepIndex: 0,
          stream: 'stdout' as const,
          at: 1,
          text: `page ${page} line ${i} ${'x'.repeat(100)}`,
        }));
      }
    }
    const body = jobLogText(pages(), () => {});
    const first = await new Promise<Buffer>((resolve) => body.once('data', resolve));
    body.pause();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(String(first)).toMatch(/^page 0 line 0 /);
    expect(pulled).toBeLessThanOrEqual(3);
    body.destroy();
  });
});
