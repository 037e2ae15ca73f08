import { describe, expect, it } from 'vitest';
import { githubContext, type RunContext } from '../../src/engine/run-context.js';

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
