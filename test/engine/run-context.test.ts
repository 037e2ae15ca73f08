import { describe, expect, it } from 'vitest';
import { githubContext, type RunContext, runGitFields } from '../../src/engine/run-context.js';

const run: RunContext = {
  runId: 'r1',
  runNumber: 3,
  workflowName: 'ci',
  workspace: '/w',
  actor: 'me',
  vars: {},
  secrets: {},
  envOverrides: {},
  inputs: { target: 'staging', dry: true },
};

const field = (context: RunContext, key: string) =>
  (githubContext(context, 'build') as Record<string, unknown>)[key];

describe('githubContext', () => {
  it('names the event the run started as, with inputs in the payload only for workflow_dispatch', () => {
    expect(field({ ...run, eventName: 'push' }, 'event_name')).toBe('push');
    expect(field({ ...run, eventName: 'push' }, 'event')).toEqual({});
    expect(field({ ...run, eventName: 'workflow_dispatch' }, 'event_name')).toBe('workflow_dispatch');
    expect(field({ ...run, eventName: 'workflow_dispatch' }, 'event')).toEqual({
      inputs: { target: 'staging', dry: 'true' },
    });
  });

  it('keeps a run stored without an event as it was: local, with its inputs', () => {
    expect(field(run, 'event_name')).toBe('local');
    expect(field(run, 'event')).toEqual({ inputs: { target: 'staging', dry: 'true' } });
  });
});

describe('githubContext as GitHub types and fills it', () => {
  it('has run_number and run_attempt as strings, empty PR refs, and the API of the server', () => {
    const github = githubContext({ ...run, runAttempt: 2, serverUrl: 'https://github.com' }, 'build');
    expect(github).toMatchObject({
      run_number: '3',
      run_attempt: '2',
      head_ref: '',
      base_ref: '',
      api_url: 'https://api.github.com',
      graphql_url: 'https://api.github.com/graphql',
      actor: 'me',
      triggering_actor: 'me',
    });
    expect(field({ ...run, serverUrl: 'https://git.example.com' }, 'api_url')).toBe(
      'https://git.example.com/api/v3',
    );
    expect(field({ ...run, serverUrl: 'https://git.example.com' }, 'graphql_url')).toBe(
      'https://git.example.com/api/graphql',
    );
    expect(field(run, 'api_url')).toBe('');
    expect(field(run, 'graphql_url')).toBe('');
  });
});

describe('githubContext of the repository', () => {
  it('has the owner, server and ref type of the run', () => {
    const context = {
      ...run,
      repository: 'acme/widgets',
      serverUrl: 'https://github.com',
      ref: 'refs/heads/main',
    };
    expect(field(context, 'repository')).toBe('acme/widgets');
    expect(field(context, 'repository_owner')).toBe('acme');
    expect(field(context, 'server_url')).toBe('https://github.com');
    expect(field(context, 'ref_type')).toBe('branch');
    expect(field({ ...context, ref: 'refs/tags/v1' }, 'ref_type')).toBe('tag');
    expect(field({ ...context, ref: 'refs/tags/v1' }, 'ref_name')).toBe('v1');
  });

  it('leaves them empty without a remote or a ref (a detached HEAD)', () => {
    for (const key of ['repository', 'repository_owner', 'server_url', 'ref_type'])
      expect(field(run, key)).toBe('');
  });
});

describe('runGitFields', () => {
  const git = {
    sha: 'a'.repeat(40),
    ref: 'refs/heads/main',
    repository: 'acme/widgets',
    serverUrl: 'https://github.com',
    commit: {
      message: 'ship it',
      parent: 'b'.repeat(40),
      author: { name: 'Ada', email: 'ada@example.com', date: '2026-11-30T14:00:00Z' },
      committer: { name: 'Ada', email: 'ada@example.com', date: '2026-11-30T14:00:00Z' },
    },
  };

  it('gives a push run github.sha, ref, repository and the push payload, the same object for every job', () => {
    const context: RunContext = { ...run, eventName: 'push', ...runGitFields(git, 'push') };
    expect(githubContext(context, 'build')).toMatchObject({
      sha: git.sha,
      ref: 'refs/heads/main',
      ref_name: 'main',
      repository: 'acme/widgets',
      repository_owner: 'acme',
      server_url: 'https://github.com',
      event: {
        ref: 'refs/heads/main',
        after: git.sha,
        before: 'b'.repeat(40),
        head_commit: { id: git.sha, message: 'ship it', timestamp: '2026-11-30T14:00:00Z' },
        repository: { full_name: 'acme/widgets' },
      },
    });
    // Built once per run: each job's context holds the same payload, not a copy made for it.
    expect(field(context, 'event')).toBe(field(context, 'event'));
  });

  it('gives another event the same context but not the push payload, and nothing without git', () => {
    const dispatch = runGitFields(git, 'workflow_dispatch');
    expect(dispatch).toEqual({
      sha: git.sha,
      ref: git.ref,
      repository: git.repository,
      serverUrl: git.serverUrl,
    });
    expect(field({ ...run, eventName: 'workflow_dispatch', ...dispatch }, 'event')).toEqual({
      inputs: { target: 'staging', dry: 'true' },
    });
    expect(runGitFields(undefined, 'push')).toEqual({});
  });
});
