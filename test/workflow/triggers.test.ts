import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
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

describe('on: as GitHub reads it', () => {
  const jobs = 'jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n';
  const errors = (on: string) =>
    parseWorkflow(`${on}\n${jobs}`, 'ci.yml')
      .diagnostics.filter((d) => d.severity === 'error')
      .map(({ message, line, col }) => ({ message, line, col }));

  it('accepts GitHub events as a name, a list and a mapping, with the settings each takes', () => {
    expect(errors('on: push')).toEqual([]);
    expect(errors('on: [push, pull_request, merge_group]')).toEqual([]);
    const mapping = [
      'on:',
      '  push: { branches: [main], tags: "v*", paths-ignore: [docs/**] }',
      '  pull_request: { types: [opened, synchronize], branches-ignore: wip/* }',
      '  schedule: [{ cron: "0 0 * * *" }, { cron: "5 4 * * 1", timezone: Europe/Paris }]',
      '  workflow_run: { workflows: [CI], types: completed }',
      '  release:',
      '  create:',
      '  workflow_dispatch:',
    ].join('\n');
    expect(errors(mapping)).toEqual([]);
  });

  it('refuses an event GitHub does not know, where it is, with the closest one', () => {
    expect(errors('on: pushh')).toEqual([
      { message: 'unknown event "pushh" (did you mean "push"?)', line: 1, col: 5 },
    ]);
    expect(errors('on: [push, pull-request]')).toEqual([
      { message: 'unknown event "pull-request" (did you mean "pull_request"?)', line: 1, col: 12 },
    ]);
    expect(errors('on:\n  push:\n  wrkflow_run:')).toEqual([
      { message: 'unknown event "wrkflow_run" (did you mean "workflow_run"?)', line: 3, col: 3 },
    ]);
    expect(errors('on: 5')[0]?.message).toMatch(/^on must be an event name, a list of them, or a mapping/);
  });

  it('refuses a key an event does not take, a bad filter, and a filter with its -ignore twin', () => {
    expect(errors('on:\n  push:\n    branch: main')).toEqual([
      {
        message:
          'unknown key "branch" in on.push (did you mean "branches"?) (known: branches, branches-ignore, tags, tags-ignore, paths, paths-ignore)',
        line: 3,
        col: 5,
      },
    ]);
    expect(errors('on:\n  push:\n    branches: main\n    branches-ignore: [x]')).toEqual([
      {
        message:
          'on.push has both branches and branches-ignore; GitHub takes one of them for an event (negate a pattern with ! in branches to leave some out)',
        line: 4,
        col: 5,
      },
    ]);
    expect(errors('on:\n  pull_request:\n    paths: [{ a: 1 }]')[0]?.message).toBe(
      'on.pull_request.paths must be a non-empty string or a list of them, received [{"a":1}]',
    );
    expect(errors('on:\n  create: { x: 1 }')[0]?.message).toBe(
      'on.create takes no settings; write it as create: with nothing after it',
    );
  });

  it('refuses a schedule that is not a list of cron: entries', () => {
    expect(errors('on:\n  schedule:\n    cron: "0 0 * * *"')).toEqual([
      {
        message: 'on.schedule must be a list of entries with a cron: (- cron: "30 5 * * 1")',
        line: 2,
        col: 3,
      },
    ]);
    expect(errors('on:\n  schedule:\n    - crn: "0 0 * * *"')).toEqual([
      {
        message: 'on.schedule[0] needs a cron: with a schedule ("30 5 * * 1"), and has none',
        line: 3,
        col: 7,
      },
      {
        message: 'unknown key "crn" in on.schedule[0] (did you mean "cron"?) (known: cron, timezone)',
        line: 3,
        col: 7,
      },
    ]);
  });

  it('refuses a cron GitHub would not take, naming the entry and the field, at its line', () => {
    expect(errors('on:\n  schedule:\n    - cron: "0 0 * * *"\n    - cron: "0 25 * * *"')).toEqual([
      {
        message: 'on.schedule[1].cron "0 25 * * *" the hour field "25" has 25, out of range 0-23',
        line: 4,
        col: 7,
      },
    ]);
    expect(errors('on:\n  schedule:\n    - cron: "@daily"')[0]).toMatchObject({
      message: expect.stringMatching(/^on\.schedule\[0\]\.cron "@daily" must have 5 fields/),
      line: 3,
    });
  });

  it('refuses an activity type the event does not have, at its entry, with the closest one and the list', () => {
    const pullRequestTypes =
      'assigned, unassigned, labeled, unlabeled, opened, edited, closed, reopened, synchronize, converted_to_draft, locked, unlocked, enqueued, dequeued, milestoned, demilestoned, ready_for_review, review_requested, review_request_removed, auto_merge_enabled, auto_merge_disabled';
    const issuesTypes =
      'opened, edited, deleted, transferred, pinned, unpinned, closed, reopened, assigned, unassigned, labeled, unlabeled, locked, unlocked, milestoned, demilestoned';
    const cases: [on: string, message: string, line: number, col: number][] = [
      [
        'on:\n  pull_request:\n    types: [opened, openned]',
        `on.pull_request.types[1] "openned" is not an activity type of pull_request (did you mean "opened"?) (it takes: ${pullRequestTypes})`,
        3,
        21,
      ],
      // One type written alone is checked the same way, at its value; GitHub compares the case too.
      [
        'on:\n  workflow_run:\n    workflows: CI\n    types: Completed',
        'on.workflow_run.types "Completed" is not an activity type of workflow_run (did you mean "completed"?) (it takes: requested, completed, in_progress)',
        4,
        12,
      ],
      [
        'on:\n  issues:\n    types:\n      - opened\n      - xyz',
        `on.issues.types[1] "xyz" is not an activity type of issues (it takes: ${issuesTypes})`,
        5,
        9,
      ],
    ];
    for (const [on, message, line, col] of cases) expect(errors(on), on).toEqual([{ message, line, col }]);
  });

  it("takes each event's own activity types, and any name for repository_dispatch's", () => {
    const mapping = [
      'on:',
      '  pull_request_target: { types: [labeled, auto_merge_enabled] }',
      '  pull_request_comment: { types: deleted }',
      '  check_run: { types: [requested_action] }',
      '  merge_group: { types: checks_requested }',
      '  watch: { types: started }',
      '  repository_dispatch: { types: [deploy-staging, Nightly_Build] }',
    ].join('\n');
    expect(errors(mapping)).toEqual([]);
    expect(errors('on:\n  repository_dispatch:\n    types: [anything-goes]')).toEqual([]);
    // Types of another event are refused: check_suite has only completed.
    expect(errors('on:\n  check_suite:\n    types: [created]')[0]?.message).toBe(
      'on.check_suite.types[0] "created" is not an activity type of check_suite (it takes: completed)',
    );
  });

  it("refuses repository_dispatch's types as one name, at its value, as GitHub's schema takes only a list there", () => {
    const listNeeded = 'on.repository_dispatch.types must be a list of non-empty names, as GitHub takes it';
    const cases: [on: string, message: string, line: number, col: number][] = [
      [
        'on:\n  repository_dispatch: { types: opened }',
        `${listNeeded} (types: [opened]), received "opened"`,
        2,
        33,
      ],
      [
        'on:\n  repository_dispatch:\n    types: [deploy, ""]',
        `${listNeeded} (types: [deploy]), received ["deploy",""]`,
        3,
        12,
      ],
      ['on:\n  repository_dispatch:\n    types: 5', `${listNeeded} (types: [deploy]), received 5`, 3, 12],
    ];
    for (const [on, message, line, col] of cases) expect(errors(on), on).toEqual([{ message, line, col }]);
    // Every other event takes one activity type alone, as GitHub does.
    expect(errors('on:\n  release: { types: published }')).toEqual([]);
  });

  it("only warns in a stored run's text, which an earlier Valkyrie admitted", () => {
    const { workflow, diagnostics } = parseWorkflow(`on: pushh\n${jobs}`, 'ci.yml', { stored: true });
    expect(workflow).toBeDefined();
    expect(diagnostics).toEqual([
      { severity: 'warning', message: 'unknown event "pushh" (did you mean "push"?)', line: 1, col: 5 },
    ]);
    const cron = parseWorkflow(`on:\n  schedule:\n    - cron: "*/0 * * * *"\n${jobs}`, 'ci.yml', {
      stored: true,
    });
    expect(cron.workflow).toBeDefined();
    expect(cron.diagnostics).toEqual([
      {
        severity: 'warning',
        message:
          'on.schedule[0].cron "*/0 * * * *" the minute field "*/0" has a step of 0; a step is at least 1',
        line: 3,
        col: 7,
      },
    ]);
    const types = parseWorkflow(`on:\n  release:\n    types: [publish]\n${jobs}`, 'ci.yml', { stored: true });
    expect(types.workflow).toBeDefined();
    expect(types.diagnostics).toEqual([
      {
        severity: 'warning',
        message: expect.stringMatching(
          /^on\.release\.types\[0\] "publish" is not an activity type of release/,
        ),
        line: 3,
        col: 13,
      },
    ]);
  });
});
