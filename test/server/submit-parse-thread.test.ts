import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { oneJobWorkflow, startTestServer } from './helpers.js';

/**
 * A workflow a submit token may send that takes seconds to parse (2 to 5 s on a fast machine, 7 to
 * 12 s on a loaded one): a flow list of 500,000 items, 1 MB. Submissions are parsed on the server's
 * parse thread (the built one in dist/: `npm run build` after editing the parser).
 */
const slowWorkflow = `jobs: [${Array(500_000).fill('1').join(',')}]\n`;

describe('submitted workflows are parsed off the event loop', () => {
  it('answers /healthz at once while a slow workflow is being parsed', async () => {
    const { request } = await startTestServer({ workflowParseTimeoutMs: 1_000 });
    let answered = false;
    const slow = request('POST', '/api/v1/runs', { body: { workflow: slowWorkflow } }).finally(() => {
      answered = true;
    });
    // Asked again and again until the slow one is answered (the 1 s limit, counted once the thread
    // has started the parse), so some are asked while the parse runs, however late it starts.
    let healthChecks = 0;
    let longestGapMs = 0;
    let last = performance.now();
    while (!answered) {
      expect((await request('GET', '/healthz')).status).toBe(200);
      healthChecks += 1;
      await sleep(20);
      longestGapMs = Math.max(longestGapMs, performance.now() - last);
      last = performance.now();
    }
    // Blocked, the loop would stall for the whole parse: 2 s or more even on a fast machine. The
    // bound leaves room for what the loop does take: reading the 1 MB body, a few hundred ms when loaded.
    expect(longestGapMs).toBeLessThan(1_000);
    expect(healthChecks).toBeGreaterThan(1);
    expect((await slow).body).toMatchObject({ code: 'VK_WORKFLOW_PARSE_TIMEOUT' });
  });

  it('refuses a workflow that takes longer than the limit with 413, and takes the next one', async () => {
    const { request, token } = await startTestServer({ workflowParseTimeoutMs: 300 });
    const submit = await token('submit');
    // The thread starts at the first parse (a second or more on a loaded machine): not timed here.
    const warm = await request('POST', '/api/v1/runs', { token: submit, body: { workflow: oneJobWorkflow } });
    expect(warm.status).toBe(201);
    const started = performance.now();
    const slow = await request('POST', '/api/v1/runs', { token: submit, body: { workflow: slowWorkflow } });
    expect(slow).toMatchObject({
      status: 413,
      body: {
        code: 'VK_WORKFLOW_PARSE_TIMEOUT',
        message:
          "workflow.yml: parsing the workflow took longer than 0.3 s, the server's limit, so it was stopped; nothing was submitted. A workflow needs far less: check it with valkyrie validate workflow.yml, which has no limit",
        path: 'body.workflow',
      },
    });
    // The limit, not the whole parse (2 s or more even on a fast machine).
    expect(performance.now() - started).toBeLessThan(1_500);
    const fine = await request('POST', '/api/v1/runs', { token: submit, body: { workflow: oneJobWorkflow } });
    expect(fine.status).toBe(201);
    const invalid = await request('POST', '/api/v1/runs', { token: submit, body: { workflow: 'jobs: 3' } });
    expect(invalid).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_WORKFLOW',
        message: 'workflow.yml:1:7: jobs must be a mapping, received 3',
        diagnostics: [{ message: 'jobs must be a mapping, received 3', line: 1, column: 7 }],
      },
    });
  });

  it('refuses a submission past the parse queue with 503 and Retry-After', async () => {
    const { request } = await startTestServer({ workflowParseTimeoutMs: 500, maxQueuedParses: 2 });
    const submit = () => request('POST', '/api/v1/runs', { body: { workflow: slowWorkflow } });
    const answers = await Promise.all([submit(), submit(), submit()]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([413, 413, 503]);
    expect(answers.find((answer) => answer.status === 503)).toMatchObject({
      headers: { 'retry-after': '5' },
      body: {
        code: 'VK_SERVER_BUSY',
        message:
          '2 submitted workflows are queued to be parsed, the most the server queues; nothing was submitted, retry in a few seconds',
      },
    });
    expect((await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } })).status).toBe(201);
  });

  it('answers a submission still being parsed when shutdown begins with 503', async () => {
    const { server, request } = await startTestServer({ drainTimeoutMs: 5_000 });
    const slow = request('POST', '/api/v1/runs', { body: { workflow: slowWorkflow } });
    await sleep(50);
    const stopped = performance.now();
    const closed = server.close();
    expect(await slow).toMatchObject({ status: 503, body: { code: 'VK_SHUTTING_DOWN' } });
    expect(performance.now() - stopped).toBeLessThan(1_000);
    await closed;
  });
});
