import { expect, it } from 'vitest';
import { startTestServer } from './helpers.js';

it('answers the first 100 errors of an invalid workflow, one entry counting the rest, and the count of all', async () => {
  // Generous: parsed on the thread (the built one in dist/), seconds on a loaded machine.
  const { request } = await startTestServer({ workflowParseTimeoutMs: 120_000 });
  // 60,000 unknown keys, and the missing jobs: 60,001 errors.
  const workflow = `${Array.from({ length: 60_000 }, (_, i) => `key${i}: x`).join('\n')}\n`;
  const answer = await request('POST', '/api/v1/runs', { body: { workflow, path: 'keys.yml' } });
  expect(answer.status).toBe(400);
  const body = answer.body as {
    code: string;
    message: string;
    diagnostics: { message: string; line?: number; column?: number }[];
    diagnosticCount: number;
  };
  expect(body).toMatchObject({ code: 'VK_INVALID_WORKFLOW', path: 'body.workflow', diagnosticCount: 60_001 });
  expect(body.diagnostics).toHaveLength(101);
  expect(body.diagnostics.slice(0, 100).every((d) => d.line !== undefined && d.column !== undefined)).toBe(
    true,
  );
  expect(body.diagnostics.at(-1)).toEqual({ message: '59901 more errors not shown (60001 in all)' });
  expect(answer.text.length).toBeLessThan(30_000);

  const few = await request('POST', '/api/v1/runs', { body: { workflow: 'jobs: 3' } });
  expect(few.body).toEqual({
    code: 'VK_INVALID_WORKFLOW',
    message: 'workflow.yml:1:7: jobs must be a mapping, received 3',
    path: 'body.workflow',
    diagnostics: [{ message: 'jobs must be a mapping, received 3', line: 1, column: 7 }],
    diagnosticCount: 1,
  });

  // Two flow mappings left open on one line: the YAML library says so twice, the answer once.
  const open = await request('POST', '/api/v1/runs', {
    body: { workflow: 'jobs: {a: {runs-on: self-hosted, steps: [{run: echo hi}]\n' },
  });
  expect(open.body).toMatchObject({ code: 'VK_INVALID_WORKFLOW', diagnosticCount: 1 });
  expect((open.body as { diagnostics: unknown[] }).diagnostics).toHaveLength(1);
}, 120_000);
