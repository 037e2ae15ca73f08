import { createHash } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { connectScriptedRunner, jobCompleted, logLine } from '../server/helpers.js';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startServer, until } from './fleet-processes.js';
import { type Answer, type Method, OpenApiConformance, send, sendHttp } from './openapi-conformance.js';

const admin = 'conformance-admin-token-0123456789';
const workspace = new Workspace();
const processes: StartedProcess[] = [];
afterAll(async () => {
  await killAll(processes);
  workspace.dispose();
});

const workflow = (name: string, runsOn = 'linux') =>
  `name: ${name}\non: push\njobs:\n  build:\n    runs-on: ${runsOn}\n    steps:\n      - run: echo hi\n`;

/**
 * One real `valkyrie server` process, every route driven over HTTP as an API user would, each
 * answer (success or error) checked against the OpenAPI document that server serves: its status
 * listed for the operation, its content type listed, its JSON body valid against the schema, the
 * headers the document lists for it present, and an error's X-Valkyrie-Error its body's code.
 */
it('answers every route as its own OpenAPI document says', { timeout: 60_000 }, async () => {
  const server = await startServer(workspace, ['--queue-capacity', '5', '--body-timeout', '1s'], {
    VALKYRIE_ADMIN_TOKEN: admin,
  });
  processes.push(server);
  const base = server.url;
  const doc = await OpenApiConformance.fetch(base);
  const found: string[] = [];
  const hit = async (
    expected: number,
    method: Method,
    path: string,
    options: Parameters<typeof send>[3] = {},
  ): Promise<Answer> => {
    const answer = await send(base, method, path, { token: admin, ...options });
    const what = `${method} ${path.slice(0, 90)} → ${answer.status}`;
    if (answer.status !== expected) found.push(`${what}, expected ${expected}: ${answer.text.slice(0, 300)}`);
    for (const problem of doc.check(method, path.split('?')[0] ?? path, answer))
      found.push(`${what}: ${problem}`);
    return answer;
  };
  const json = { 'content-type': 'application/json' };
  // The checker itself refuses what the document does not say: a run answered without its run.
  const unlike = { status: 200, headers: new Headers(json), text: '{}', body: {} };
  expect(doc.check('GET', '/api/v1/runs/x', unlike)).toEqual([
    'body must have required property \'run\' {"missingProperty":"run"}',
  ]);

  // Public and operational routes.
  await hit(200, 'GET', '/healthz', { token: null });
  await hit(200, 'GET', '/readyz', { token: null });
  await hit(200, 'GET', '/api/v1/openapi.json', { token: null });
  await hit(400, 'GET', '/api/v1/openapi.json?x=1', { token: null });
  await hit(401, 'GET', '/metrics', { token: null });
  await hit(200, 'GET', '/metrics');
  // Every GET answers HEAD too, as its own operation in the document: the GET's status and headers.
  await hit(200, 'HEAD', '/healthz', { token: null });
  await hit(200, 'HEAD', '/api/v1/runs');
  await hit(401, 'HEAD', '/api/v1/tokens', { token: null });
  await hit(404, 'HEAD', '/api/v1/runs/none');

  // Tokens.
  const read = (await hit(201, 'POST', '/api/v1/tokens', { json: { role: 'read', name: 'reader' } }))
    .body as {
    id: string;
    token: string;
  };
  const submitter = (await hit(201, 'POST', '/api/v1/tokens', { json: { role: 'submit', ttl: '1h' } }))
    .body as { token: string };
  const registration = (await hit(201, 'POST', '/api/v1/tokens', { json: { role: 'runner' } })).body as {
    token: string;
  };
  await hit(400, 'POST', '/api/v1/tokens', { json: { role: 'boss' } });
  await hit(400, 'POST', '/api/v1/tokens', { raw: '{', headers: json });
  await hit(400, 'POST', '/api/v1/tokens', { raw: '', headers: json });
  await hit(415, 'POST', '/api/v1/tokens', {
    raw: '{"role":"read"}',
    headers: { 'content-type': 'text/plain' },
  });
  await hit(413, 'POST', '/api/v1/tokens', { raw: ' '.repeat(3 * 1024 * 1024), headers: json });
  await hit(200, 'GET', '/api/v1/tokens');
  await hit(401, 'GET', '/api/v1/tokens', { token: null });
  await hit(401, 'GET', '/api/v1/tokens', { token: 'vkt.nope' });
  await hit(403, 'GET', '/api/v1/tokens', { token: read.token });
  await hit(400, 'GET', '/api/v1/tokens?x=1');
  await hit(404, 'DELETE', '/api/v1/tokens/nothing');

  // Runners.
  const registered = async () =>
    (
      (await hit(201, 'POST', '/api/v1/runners/register', { token: registration.token, json: { name: 'r' } }))
        .body as { runnerId: string; credential: string }
    ).credential;
  const credential = await registered();
  const leaving = await registered();
  await hit(403, 'POST', '/api/v1/runners/register', { json: {} });
  // The runner protocol over long-poll, as a runner drives it: open, register, poll, close. A label no
  // job asks for: no job is offered to it.
  const sessions = '/api/v1/runner/poll/sessions';
  const opened = (await hit(201, 'POST', sessions, { token: await registered() })).body as {
    sessionId: string;
  };
  const session = `${sessions}/${opened.sessionId}`;
  const register = {
    type: 'register',
    version: 1,
    runner: { name: 'lp', labels: ['long-poll-only'], capacity: 1 },
  };
  await hit(200, 'POST', `${session}/messages`, {
    token: null,
    json: { v: 1, seq: 1, messages: [register] },
  });
  expect(doc.acceptsBody('POST', `${session}/messages`, { v: 1, seq: 1, messages: [register] })).toBe(true);
  expect(doc.acceptsBody('POST', `${session}/messages`, { v: 1, seq: 1, messages: [{ type: 'nope' }] })).toBe(
    false,
  );
  const polled = (await hit(200, 'GET', `${session}/messages?ack=0`, { token: null })).body as {
    messages: { type: string }[];
  };
  expect(polled.messages.map((message) => message.type)).toContain('registered');
  await hit(204, 'DELETE', `${session}?reason=checked`, { token: null });
  // And the errors the acceptor answers, each with its code in X-Valkyrie-Error as the API's are.
  await hit(401, 'POST', sessions, { token: null });
  await hit(403, 'POST', sessions);
  await hit(400, 'POST', sessions, {
    token: await registered(),
    headers: { 'valkyrie-protocol-version': '9' },
  });
  await hit(405, 'PUT', sessions);
  await hit(404, 'GET', `${sessions}/none/messages?ack=0`, { token: null });
  await hit(404, 'DELETE', `${sessions}/none`, { token: null });
  await hit(404, 'GET', '/api/v1/runner/poll/nothing', { token: null });
  const refused = (await hit(201, 'POST', sessions, { token: await registered() })).body as {
    sessionId: string;
  };
  const badBatch = `${sessions}/${refused.sessionId}`;
  await hit(400, 'GET', `${badBatch}/messages?ack=x`, { token: null });
  await hit(400, 'POST', `${badBatch}/messages`, { token: null, json: { v: 1, seq: 1, messages: [{}] } });
  await hit(410, 'GET', `${badBatch}/messages?ack=0`, { token: null });
  const runner = await connectScriptedRunner(base, credential, 1);
  await hit(200, 'GET', '/api/v1/runners', { token: read.token });
  const runnerId = await until('the runner listed', async () => {
    const { body } = await send(base, 'GET', '/api/v1/runners', { token: admin });
    return (body as { runners: { id: string; connected: boolean }[] }).runners.find((one) => one.connected)
      ?.id;
  });
  await hit(200, 'POST', `/api/v1/runners/${runnerId}/drain`, { json: { note: 'checking' } });
  await hit(200, 'POST', `/api/v1/runners/${runnerId}/maintenance`);
  await hit(400, 'POST', `/api/v1/runners/${runnerId}/resume`, { json: { note: 'no' } });
  await hit(200, 'POST', `/api/v1/runners/${runnerId}/resume`);
  await hit(404, 'POST', '/api/v1/runners/nobody/drain');
  await hit(400, 'POST', `/api/v1/runners/${runnerId}/explode`);
  await hit(403, 'POST', `/api/v1/runners/${runnerId}/drain`, { token: read.token });

  // Bundles.
  const bundle = Buffer.from('a bundle, as far as its hash goes');
  const sha = createHash('sha256').update(bundle).digest('hex');
  const gzip = { 'content-type': 'application/gzip' };
  await hit(201, 'PUT', `/api/v1/bundles/${sha}`, { raw: bundle, headers: gzip });
  await hit(200, 'PUT', `/api/v1/bundles/${sha}`, { raw: bundle, headers: gzip });
  await hit(400, 'PUT', `/api/v1/bundles/${'b'.repeat(64)}`, { raw: bundle, headers: gzip });
  await hit(415, 'PUT', `/api/v1/bundles/${sha}`, { raw: bundle, headers: { 'content-type': 'text/csv' } });
  await hit(200, 'HEAD', `/api/v1/bundles/${sha}`);
  await hit(404, 'HEAD', `/api/v1/bundles/${'c'.repeat(64)}`);
  await hit(400, 'HEAD', '/api/v1/bundles/nothex');

  // Runs: submit.
  const keyed = { json: { workflow: workflow('hello'), bundle: sha }, headers: { 'idempotency-key': 'k1' } };
  const { run } = (await hit(201, 'POST', '/api/v1/runs', keyed)).body as { run: { id: string } };
  await hit(200, 'POST', '/api/v1/runs', keyed);
  await hit(422, 'POST', '/api/v1/runs', { ...keyed, json: { workflow: workflow('other') } });
  await hit(400, 'POST', '/api/v1/runs', { json: { workflow: 'jobs: 3' } });
  await hit(400, 'POST', '/api/v1/runs', { json: { workflow: workflow('x'), extra: 1 } });
  await hit(404, 'POST', '/api/v1/runs', { json: { workflow: workflow('x'), bundle: 'd'.repeat(64) } });
  await hit(403, 'POST', '/api/v1/runs', { token: read.token, json: { workflow: workflow('x') } });
  const utf16 = { 'content-type': 'application/json; charset=utf-16' };
  await hit(415, 'POST', '/api/v1/runs', { raw: '{}', headers: utf16 });
  await hit(415, 'POST', '/api/v1/runs', { raw: '{}', headers: { ...json, 'content-encoding': 'gzip' } });
  await hit(400, 'POST', '/api/v1/runs', { raw: '{"__proto__": {"x": 1}}', headers: json });
  await hit(201, 'POST', '/api/v1/runs', {
    token: submitter.token,
    json: { workflow: workflow('second', 'nowhere') },
  });

  const [lease] = await runner.leases(1);
  if (lease === undefined) throw new Error('no lease');
  runner.transport.send(logLine(lease, 'a line'));
  await hit(200, 'GET', `/api/v1/jobs/${lease.jobId}/workspace`, { token: lease.jobToken ?? '' });
  await hit(403, 'GET', `/api/v1/jobs/${run.id}.other/workspace`, { token: lease.jobToken ?? '' });

  // Runs: list, pages and filters.
  const page = (await hit(200, 'GET', '/api/v1/runs?limit=1')).body as { next?: string };
  await hit(200, 'GET', `/api/v1/runs?limit=1&cursor=${encodeURIComponent(page.next ?? '')}`);
  await hit(200, 'GET', '/api/v1/runs?status=running,queued&workflow=hello', { token: read.token });
  for (const query of [
    'limit=-1',
    'limit=abc',
    'limit=0',
    'limit=501',
    'cursor=garbage',
    'status=bogus',
    'x=1',
  ])
    await hit(400, 'GET', `/api/v1/runs?${query}`);
  // The document's query parameters take exactly the values the server takes.
  const queries: [string, string, string[]][] = [
    ['/api/v1/runs', 'limit', ['-1', '0', '1', '01', '500', '501', 'abc', '1.5', '1e2']],
    [`/api/v1/runs/${run.id}/log-lines`, 'limit', ['0', '1', '1000', '1001', 'x']],
    [`/api/v1/runs/${run.id}/log-lines`, 'after', ['-1', '0', '7', 'x']],
    ['/api/v1/runs', 'status', ['running', 'failed,cancelled', 'bogus', 'running,', 'RUNNING', '']],
    ['/api/v1/runs', 'workflow', ['hello', '', 'w'.repeat(1000), 'w'.repeat(1001)]],
    [`/api/v1/runs/${run.id}/logs`, 'follow', ['0', '1', 'true', 'false', 'yes']],
  ];
  for (const [path, name, values] of queries)
    for (const value of values) {
      const job = /\/log(s|-lines)$/.test(path) ? `job=${lease.jobId}&` : '';
      // HEAD: a followed log of a running job would not end; its headers come at once.
      const method = name === 'follow' ? 'HEAD' : 'GET';
      const { status } = await send(base, method, `${path}?${job}${name}=${encodeURIComponent(value)}`, {
        token: admin,
      });
      const documented = doc.acceptsQuery('GET', path, name, value);
      if ((status === 200) !== documented)
        found.push(
          `GET ${path}?${name}=${value} → ${status}, but the document ${documented ? 'takes' : 'refuses'} it`,
        );
    }
  // And the document's request bodies take exactly what the server takes (a 400 refuses).
  const bodies: [string, unknown[]][] = [
    [
      '/api/v1/tokens',
      [
        { role: 'read' },
        { role: 'read', ttl: '30m' },
        // A text ttl's bounds (30s, 3651d) are in the description only: no pattern weighs units.
        { role: 'read', ttl: 3600 },
        { role: 'read', ttl: 59 },
        { role: 'read', ttl: 315_360_001 },
        { role: 'read', ttl: '2w' },
        { role: 'read', name: '' },
        { role: 'read', name: 'n'.repeat(101) },
        { role: 'read', name: 'a\u0007' },
        { role: 'root' },
      ],
    ],
    [
      '/api/v1/runs/none/cancel',
      [{}, { reason: 'r' }, { reason: '' }, { reason: 'r'.repeat(201) }, { reason: 'a\nb' }, { other: 1 }],
    ],
    [
      '/api/v1/runners/nobody/drain',
      [{}, { note: 'n' }, { note: '' }, { note: 'n'.repeat(501) }, { note: 'a\tb' }, { note: 3 }],
    ],
  ];
  for (const [path, cases] of bodies)
    for (const body of cases) {
      const { status, text } = await send(base, 'POST', path, { token: admin, json: body });
      const documented = doc.acceptsBody('POST', path, body);
      if ((status !== 400) !== documented)
        found.push(
          `POST ${path} ${JSON.stringify(body).slice(0, 80)} → ${status}, but the document ${documented ? 'takes' : 'refuses'} it: ${text.slice(0, 160)}`,
        );
    }
  await hit(200, 'GET', `/api/v1/runs/${run.id}`);
  await hit(404, 'GET', '/api/v1/runs/none');
  await hit(200, 'GET', '/api/v1/runs/');
  await hit(400, 'GET', '/api/v1/runs/%00%ff');
  await hit(400, 'GET', `/api/v1/runs/${'r'.repeat(101)}`);
  await hit(404, 'POST', '/api/v1/runs/none/cancel', { raw: '', headers: json });
  await hit(200, 'GET', `/api/v1/runs/${run.id}/log-lines?job=${lease.jobId}`);
  await hit(400, 'GET', `/api/v1/runs/${run.id}/log-lines?job=${lease.jobId}&limit=-1`);
  await hit(200, 'GET', `/api/v1/runs/${run.id}/logs?job=${lease.jobId}`);
  await hit(400, 'GET', `/api/v1/runs/${run.id}/logs`);
  await hit(404, 'GET', `/api/v1/runs/${run.id}/logs?job=${run.id}.none`);

  // Cancel, then re-run, then let the re-run finish and read its streams.
  await hit(400, 'POST', `/api/v1/runs/${run.id}/cancel`, { json: { reason: 'a\u0007' } });
  await hit(202, 'POST', `/api/v1/runs/${run.id}/cancel`, { json: { reason: 'checking' } });
  runner.transport.send(jobCompleted(lease, { kind: 'cancelled', reason: 'checking' }));
  const statusOf = async (status: string) =>
    until(`run ${status}`, async () => {
      const answer = await send(base, 'GET', `/api/v1/runs/${run.id}`, { token: admin });
      return (answer.body as { run: { status: string } }).run.status === status ? true : undefined;
    });
  await statusOf('cancelled');
  await hit(409, 'POST', `/api/v1/runs/${run.id}/cancel`);
  await hit(202, 'POST', `/api/v1/runs/${run.id}/rerun`);
  await hit(409, 'POST', `/api/v1/runs/${run.id}/rerun`);
  const second = (await runner.leases(2))[1];
  if (second === undefined) throw new Error('no second lease');
  runner.transport.send(jobCompleted(second));
  await statusOf('succeeded');
  await hit(409, 'POST', `/api/v1/runs/${run.id}/rerun`, { json: {} });
  await hit(200, 'GET', `/api/v1/runs/${run.id}/events`);
  await hit(200, 'GET', `/api/v1/runs/${run.id}/logs?job=${lease.jobId}&follow=1`);
  await hit(404, 'GET', '/api/v1/runs/none/events');
  await hit(401, 'GET', `/api/v1/jobs/${lease.jobId}/workspace`, { token: lease.jobToken ?? '' });

  // Revocations.
  await hit(204, 'DELETE', `/api/v1/tokens/${read.id}`);
  await hit(403, 'DELETE', '/api/v1/runner/credential');
  await hit(204, 'DELETE', '/api/v1/runner/credential', { token: leaving });

  // Bodies that stop arriving (--body-timeout 1s): 408, on a bundle upload and on a JSON body.
  const stalls: [Method, string, Record<string, string>][] = [
    ['PUT', `/api/v1/bundles/${'e'.repeat(64)}`, gzip],
    ['POST', '/api/v1/runs', json],
    ['POST', `/api/v1/runs/${run.id}/cancel`, json],
  ];
  for (const [method, path, headers] of stalls) {
    const answer = await sendHttp(
      base,
      method,
      path,
      { ...headers, authorization: `Bearer ${admin}` },
      '{',
      100,
    );
    const what = `${method} ${path} with a stalled body → ${answer.status}`;
    if (answer.status !== 408) found.push(`${what}, expected 408: ${answer.text}`);
    for (const problem of doc.check(method, path, answer)) found.push(`${what}: ${problem}`);
  }

  // What no route takes.
  await hit(404, 'GET', '/api/v1/nothing');
  await hit(405, 'PATCH', '/api/v1/runs');
  await hit(405, 'POST', '/healthz');
  await hit(405, 'OPTIONS', '/api/v1/runs/1');
  // Methods fetch will not send, or Fastify routes none of: the path exists all the same.
  for (const [method, path] of [
    ['TRACE', '/api/v1/runs'],
    ['PROPFIND', '/api/v1/runs/1'],
    ['TRACE', '/healthz'],
  ] as const) {
    const answer = await sendHttp(base, method, path, { authorization: `Bearer ${admin}` });
    const what = `${method} ${path} → ${answer.status}`;
    if (answer.status !== 405) found.push(`${what}, expected 405: ${answer.text}`);
    for (const problem of doc.check(method, path, answer)) found.push(`${what}: ${problem}`);
  }

  // A re-run must be given the run's secrets again.
  const secret = { json: { workflow: workflow('secret', 'nowhere'), secrets: { API_KEY: 'k' } } };
  const withSecret = ((await hit(201, 'POST', '/api/v1/runs', secret)).body as { run: { id: string } }).run;
  await hit(202, 'POST', `/api/v1/runs/${withSecret.id}/cancel`);
  await until('the cancel', async () => {
    const answer = await send(base, 'GET', `/api/v1/runs/${withSecret.id}`, { token: admin });
    return (answer.body as { run: { status: string } }).run.status === 'cancelled' ? true : undefined;
  });
  const missing = await hit(400, 'POST', `/api/v1/runs/${withSecret.id}/rerun`);
  expect(missing.body).toMatchObject({ missingSecrets: ['API_KEY'] });

  // A job left running (for the drain below), then a full queue: 5 unfinished jobs with 'second'.
  await hit(201, 'POST', '/api/v1/runs', { json: { workflow: workflow('draining') } });
  await runner.leases(3);
  for (let n = 0; n < 3; n++)
    await hit(201, 'POST', '/api/v1/runs', { json: { workflow: workflow(`stuck${n}`, 'nowhere') } });
  await hit(429, 'POST', '/api/v1/runs', { json: { workflow: workflow('stuck', 'nowhere') } });
  await hit(422, 'POST', '/api/v1/runs', {
    json: {
      workflow: workflow('huge', 'nowhere').replace(
        'runs-on',
        'strategy: {matrix: {n: [1,2,3,4,5,6]}}\n    runs-on',
      ),
    },
  });

  server.child.kill('SIGTERM');
  await until('the drain', async () =>
    (await send(base, 'GET', '/readyz')).status === 503 ? true : undefined,
  );
  await hit(503, 'GET', '/readyz', { token: null });
  await hit(503, 'GET', '/api/v1/runs');
  await hit(200, 'GET', '/healthz', { token: null });

  expect(found).toEqual([]);
});
