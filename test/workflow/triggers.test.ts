import { describe, expect, it } from 'vitest';
import { chooseEvent, triggersOf } from '../../src/workflow/triggers.js';

describe('triggersOf', () => {
  it('reads on: as a name, a list or a mapping, in file order', () => {
    expect(triggersOf('push')).toEqual(['push']);
    expect(triggersOf(['pull_request', 'push'])).toEqual(['pull_request', 'push']);
    expect(triggersOf({ schedule: [{ cron: '0 0 * * *' }], workflow_dispatch: null })).toEqual([
      'schedule',
      'workflow_dispatch',
    ]);
    expect(triggersOf(undefined)).toEqual([]);
  });
});

describe('chooseEvent', () => {
  it('defaults to workflow_dispatch with inputs or alone, else push, else the first trigger', () => {
    const both = ['push', 'workflow_dispatch'];
    expect(chooseEvent(both, undefined, true)).toEqual({ event: 'workflow_dispatch' });
    expect(chooseEvent(both, undefined, false)).toEqual({ event: 'push' });
    expect(chooseEvent(['workflow_dispatch'], undefined, false)).toEqual({ event: 'workflow_dispatch' });
    expect(chooseEvent(['pull_request', 'push'], undefined, false)).toEqual({ event: 'push' });
    expect(chooseEvent(['pull_request', 'schedule'], undefined, false)).toEqual({ event: 'pull_request' });
    expect(chooseEvent([], undefined, false)).toEqual({ event: 'local' });
  });

  it('runs a reusable workflow as workflow_call with inputs (its caller gives them), or when it is alone', () => {
    expect(chooseEvent(['push', 'workflow_call'], undefined, true)).toEqual({ event: 'workflow_call' });
    expect(chooseEvent(['push', 'workflow_call'], undefined, false)).toEqual({ event: 'push' });
    expect(chooseEvent(['workflow_call'], undefined, false)).toEqual({ event: 'workflow_call' });
    expect(chooseEvent(['workflow_call', 'workflow_dispatch'], undefined, true)).toEqual({
      event: 'workflow_dispatch',
    });
    expect(chooseEvent(['push', 'workflow_call'], 'workflow_call', true)).toEqual({ event: 'workflow_call' });
  });

  it('takes a requested event the workflow lists, or any without on:', () => {
    expect(chooseEvent(['push', 'pull_request'], 'pull_request', false)).toEqual({ event: 'pull_request' });
    expect(chooseEvent(['push', 'workflow_dispatch'], 'workflow_dispatch', true)).toEqual({
      event: 'workflow_dispatch',
    });
    expect(chooseEvent([], 'push', false)).toEqual({ event: 'push' });
  });

  it('refuses an event on: does not list, inputs with another event, and an empty name', () => {
    expect(chooseEvent(['push', 'workflow_dispatch'], 'pull_request', false)).toEqual({
      problem: 'event "pull_request" is not one of the workflow\'s on: triggers (push, workflow_dispatch)',
    });
    expect(chooseEvent(['push', 'workflow_dispatch'], 'push', true)).toEqual({
      problem: 'inputs go only with the workflow_dispatch or workflow_call event, not with "push"',
    });
    expect(chooseEvent([], ' ', false)).toEqual({ problem: 'the event name is empty' });
  });
});
