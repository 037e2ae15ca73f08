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
