import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

const workflow = `name: ship
on:
  push:
  workflow_dispatch:
jobs:
  ship:
    runs-on: linux
    steps:
      - run: ./ship
`;

const sha = 'a'.repeat(40);
const parent = 'b'.repeat(40);
const person = { name: 'Ada Lovelace', email: 'ada@example.com', date: '2026-11-30T15:04:05+01:00' };
/** What `valkyrie submit` sends from a checkout of acme/widgets at main. */
const git = {
  sha,
  ref: 'refs/heads/main',
  repository: 'acme/widgets',
  serverUrl: 'https://github.com',
  commit: { message: 'Ship it\n\nwith a body', parent, author: person, committer: person },
};

/** github.* as a local run in that checkout has it. */
const expectedGithub = {
  event_name: 'push',
  sha,
  ref: 'refs/heads/main',
  ref_name: 'main',
  ref_type: 'branch',
  repository: 'acme/widgets',
  repository_owner: 'acme',
  server_url: 'https://github.com',
  event: {
    ref: 'refs/heads/main',
    after: sha,
    before: parent,
    head_commit: {
      id: sha,
      message: 'Ship it\n\nwith a body',
      timestamp: '2026-11-30T15:04:05+01:00',
      url: `https://github.com/acme/widgets/commit/${sha}`,
      author: { name: 'Ada Lovelace', email: 'ada@example.com' },
      committer: { name: 'Ada Lovelace', email: 'ada@example.com' },
    },
    repository: {
      name: 'widgets',
      full_name: 'acme/widgets',
      owner: { login: 'acme', name: 'acme' },
      html_url: 'https://github.com/acme/widgets',
    },
  },
};

describe('POST /api/v1/runs with git', () => {
  it("gives the run's jobs github.sha, ref, repository and the push payload, and a re-run the same", async () => {
    const { server, request, token } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', { body: { workflow, git } });
    expect(created.status).toBe(201);
    const runId = (created.body as { run: { id: string } }).run.id;
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const [first] = await runner.leases(1);
    if (first === undefined) throw new Error('no lease');
    expect(first.job.contexts.github).toMatchObject(expectedGithub);
    runner.transport.send(jobCompleted(first, { kind: 'failed', reason: 'exit code 1', exitCode: 1 }));
    await waitForRunStatus(request, runId, 'failed');
    expect((await request('POST', `/api/v1/runs/${runId}/rerun`)).status).toBe(202);
    const [, second] = await runner.leases(2);
    expect(second?.job.contexts.github).toMatchObject({ ...expectedGithub, run_attempt: '2' });
    runner.transport.close();
  });

  it('gives a run of another event the same git context, without the push payload', async () => {
    const { server, request, token } = await startTestServer();
    const body = { workflow, event: 'workflow_dispatch', git: { ...git, commit: undefined } };
    expect((await request('POST', '/api/v1/runs', { body })).status).toBe(201);
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const [lease] = await runner.leases(1);
    const { event: _push, ...rest } = expectedGithub;
    expect(lease?.job.contexts.github).toMatchObject({
      ...rest,
      event_name: 'workflow_dispatch',
      event: { inputs: {} },
    });
    expect(lease?.job.contexts.github).not.toHaveProperty('event.head_commit');
    runner.transport.close();
  });

  it("takes any http(s) origin new URL takes: an ssh alias's host with _, an IPv6 host", async () => {
    const { request } = await startTestServer();
    for (const serverUrl of ['https://gh_work', 'https://[::1]', 'http://[::1]:8080']) {
      const body = { workflow, git: { ...git, serverUrl } };
      expect((await request('POST', '/api/v1/runs', { body })).status, serverUrl).toBe(201);
    }
  });

  it('takes a commit whose people have no date (git recorded one ISO 8601 cannot write)', async () => {
    const { request } = await startTestServer();
    const undated = { name: 'Ada Lovelace', email: 'ada@example.com' };
    const body = {
      workflow,
      git: { ...git, commit: { ...git.commit, author: undated, committer: undated } },
    };
    expect((await request('POST', '/api/v1/runs', { body })).status).toBe(201);
  });

  it('refuses a field of the wrong type or length with 400 VK_INVALID_REQUEST naming it, creating nothing', async () => {
    const { request } = await startTestServer();
    const refusals: [unknown, string][] = [
      [{ ...git, sha: 'HEAD' }, 'body.git.sha'],
      [{ ...git, sha: 42 }, 'body.git.sha'],
      [{ ...git, ref: 'main' }, 'body.git.ref'],
      [{ ...git, ref: 'refs/heads/main\nGITHUB_TOKEN=x' }, 'body.git.ref'],
      [{ ...git, ref: `refs/heads/${'x'.repeat(1000)}` }, 'body.git.ref'],
      [{ ...git, repository: 'widgets' }, 'body.git.repository'],
      [{ ...git, serverUrl: 'ftp://github.com' }, 'body.git.serverUrl'],
      [{ ...git, commit: { ...git.commit, message: 'x'.repeat(64 * 1024 + 1) } }, 'body.git.commit.message'],
      [{ ...git, commit: { ...git.commit, message: 'a\u0000b' } }, 'body.git.commit.message'],
      [{ ...git, commit: { ...git.commit, parent: 'nope' } }, 'body.git.commit.parent'],
      [
        { ...git, commit: { ...git.commit, author: { ...person, date: 'yesterday' } } },
        'body.git.commit.author.date',
      ],
      [
        { ...git, commit: { ...git.commit, committer: { ...person, email: 'a\u0000b' } } },
        'body.git.commit.committer.email',
      ],
      [{ ...git, commit: { ...git.commit, author: undefined } }, 'body.git.commit.author'],
      [{ ...git, branch: 'main' }, 'body.git'],
      ['main', 'body.git'],
    ];
    for (const [value, path] of refusals) {
      const refused = await request('POST', '/api/v1/runs', { body: { workflow, git: value } });
      expect(refused.status, path).toBe(400);
      expect(refused.body, path).toMatchObject({
        code: 'VK_INVALID_REQUEST',
        path,
        message: expect.stringMatching(new RegExp(`^${path.replaceAll('.', '\\.')}: `)),
      });
    }
    const listed = await request('GET', '/api/v1/runs');
    expect((listed.body as { runs: unknown[] }).runs).toEqual([]);
  });
});

/** The wall clock 10 s on: past the 6 s after which a run's heartbeat is stale (run-liveness.ts). */
const laterClock = { ...systemClock, now: () => systemClock.now() + 10_000 };

function takeoverScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a server that takes the run over gives its jobs the same git context`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const created = await first.request('POST', '/api/v1/runs', { body: { workflow, git } });
    const runId = (created.body as { run: { id: string } }).run.id;
    await first.server.destroy();
    const second = await startTestServer({ stores: await openStores(), clock: laterClock });
    const runner = await connectScriptedRunner(
      second.server.url,
      await credential(second.request, second.token),
      1,
    );
    const [lease] = await runner.leases(1);
    expect(lease?.job.contexts.github).toMatchObject(expectedGithub);
    if (lease !== undefined) runner.transport.send(jobCompleted(lease));
    await waitForRunStatus(second.request, runId, 'succeeded');
    runner.transport.close();
  }, 30_000);
}

onBothStores('a run taken over keeps its git context', takeoverScenario);

describe('the OpenAPI document', () => {
  it("describes the run request's git field, with its commit", async () => {
    const { request } = await startTestServer();
    const doc = (await request('GET', '/api/v1/openapi.json', { token: null })).body as {
      paths: Record<string, { post?: { requestBody: { content: Record<string, { schema: unknown }> } } }>;
    };
    const body = doc.paths['/api/v1/runs']?.post?.requestBody.content['application/json']?.schema;
    expect(body).toMatchObject({
      properties: {
        git: {
          type: 'object',
          properties: {
            sha: { type: 'string' },
            ref: { type: 'string', maxLength: 1000 },
            repository: { type: 'string' },
            serverUrl: { type: 'string' },
            commit: { type: 'object', required: ['message', 'author', 'committer'] },
          },
        },
      },
    });
  });
});
