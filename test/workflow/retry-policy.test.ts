import { describe, expect, it } from 'vitest';
import { defaultRetryPolicy } from '../../src/core/retry-delay.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { workflowJsonSchema } from '../../src/workflow/schema.js';

const parse = (source: string) => {
  const result = parseWorkflow(source, 'retry.yml');
  if (!result.workflow) throw new Error(JSON.stringify(result.diagnostics));
  return result.workflow;
};

describe('retry: in the workflow model', () => {
  it('resolves a job and a step policy, filling in the defaults', () => {
    const workflow = parse(`jobs:
  build:
    runs-on: ubuntu-latest
    retry:
      max-attempts: 4
      backoff: fibonacci
      delay: 250ms
      max-delay: 1m
      jitter: 0.5
      when: [runner-lost, {exit-codes: [3, 75]}]
    steps:
      - run: make
        retry: {max-attempts: 3, delay: 2}
      - run: make test
`);
    const job = workflow.jobs.get('build');
    expect(job?.retry).toEqual({
      maxAttempts: 4,
      backoff: 'fibonacci',
      delayMs: 250,
      maxDelayMs: 60_000,
      jitter: 0.5,
      when: [{ kind: 'runner-lost' }, { kind: 'exit-codes', codes: [3, 75] }],
    });
    expect(job?.steps[0]?.retry).toEqual({ ...defaultRetryPolicy, maxAttempts: 3, delayMs: 2000 });
    expect(job?.steps[1]?.retry).toBeUndefined();
  });

  it('reads jitter: true as full jitter and false as none', () => {
    const workflow = parse(`jobs:
  a:
    runs-on: ubuntu-latest
    retry: {jitter: true}
    steps:
      - run: x
        retry: {jitter: false}
`);
    expect(workflow.jobs.get('a')?.retry?.jitter).toBe(1);
    expect(workflow.jobs.get('a')?.steps[0]?.retry?.jitter).toBe(0);
  });

  it('is part of the exported JSON Schema for jobs and steps', () => {
    const text = JSON.stringify(workflowJsonSchema());
    for (const key of [
      'max-attempts',
      'backoff',
      'max-delay',
      'jitter',
      'exit-codes',
      'fibonacci',
      'runner-lost',
    ])
      expect(text).toContain(`"${key}"`);
    const schema = workflowJsonSchema() as {
      properties: { jobs: { additionalProperties: { properties: Record<string, unknown> } } };
    };
    const job = schema.properties.jobs.additionalProperties;
    expect(Object.keys(job.properties)).toContain('retry');
    const steps = job.properties.steps as { items: { properties: Record<string, unknown> } };
    expect(Object.keys(steps.items.properties)).toContain('retry');
  });
});

describe('retry: settings that can never take effect', () => {
  const warnings = (source: string) =>
    parseWorkflow(source, 'retry.yml')
      .diagnostics.filter((diagnostic) => diagnostic.severity === 'warning')
      .map(({ line, col, message }) => [line, col, message]);

  it('warns with file:line:col, and runs the workflow as written', () => {
    const source = `jobs:
  build:
    runs-on: ubuntu-latest
    retry: { max-attempts: 3, when: [runner-lost] }
    steps:
      - run: make
        retry: { max-attempts: 3, when: [failure, runner-lost] }
      - run: make test
        retry: { max-attempts: 3, when: [{exit-codes: []}] }
      - run: make lint
        retry: { max-attempts: 2, delay: 5s, max-delay: 1s }
  deploy:
    runs-on: ubuntu-latest
    on-runner-lost: fail
    retry: { max-attempts: 3, when: [runner-lost], delay: 1s, max-delay: 1s }
    steps: [{ run: make deploy, retry: { when: [] } }]
`;
    expect(warnings(source)).toEqual([
      [
        4,
        38,
        'retry.when: runner-lost takes effect only with on-runner-lost: fail; under requeue (the default) a job whose runner is lost is queued again without using an attempt',
      ],
      [
        7,
        51,
        'retry.when: runner-lost applies to jobs only: a step loses its runner only with its job, so it is never retried for that',
      ],
      [
        9,
        41,
        'retry.when names no condition, so nothing is retried: list failure, timeout, runner-lost or exit-codes, or leave it out',
      ],
      [11, 57, 'retry.max-delay ("1s") is shorter than retry.delay ("5s"): every wait is max-delay'],
    ]);
    expect(parseWorkflow(source, 'retry.yml').workflow).toBeDefined();
  });
});
