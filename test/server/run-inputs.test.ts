import { describe, expect, it } from 'vitest';
import { connectScriptedRunner, credential, startTestServer } from './helpers.js';

const deploy = `name: deploy
on:
  workflow_dispatch:
    inputs:
      target: { type: choice, options: [staging, production], required: true }
      replicas: { type: number, default: 2 }
jobs:
  ship:
    runs-on: linux
    steps:
      - run: ./ship \${{ inputs.target }}
`;

describe('POST /api/v1/runs with inputs', () => {
  it("types the run's inputs and gives them to its jobs: the inputs context and github.event.inputs", async () => {
    const { server, request, token } = await startTestServer();
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const created = await request('POST', '/api/v1/runs', {
      body: { workflow: deploy, inputs: { target: 'production', replicas: '3' } },
    });
    expect(created.status).toBe(201);
    const [lease] = await runner.leases(1);
    expect(lease?.job.contexts.inputs).toEqual({ target: 'production', replicas: 3 });
    expect(lease?.job.contexts.github).toMatchObject({
      event: { inputs: { target: 'production', replicas: '3' } },
    });
    runner.transport.close();
  });

  it('refuses an unknown, missing or mistyped input with 400 VK_INVALID_INPUT, creating nothing', async () => {
    const { request } = await startTestServer();
    // The path names the input: the missing one, the one refused, the unknown one.
    const refusals = [
      [{}, 'target', 'input "target" is required'],
      [{ target: 'prod' }, 'target', 'input "target" must be one of staging, production, received "prod"'],
      [
        { target: 'staging', replica: 1 },
        'replica',
        'unknown input "replica"; the workflow declares target, replicas',
      ],
    ] as const;
    for (const [inputs, name, message] of refusals) {
      const refused = await request('POST', '/api/v1/runs', { body: { workflow: deploy, inputs } });
      expect(refused.status).toBe(400);
      expect(refused.body).toEqual({ code: 'VK_INVALID_INPUT', message, path: `body.inputs.${name}` });
    }
    const mistyped = await request('POST', '/api/v1/runs', {
      body: { workflow: deploy, inputs: { target: 'staging', replicas: [3] } },
    });
    expect(mistyped.body).toMatchObject({
      path: 'body.inputs.replicas',
      message: 'body.inputs.replicas: expected a string, a number or a boolean, received an array',
    });
    const listed = await request('GET', '/api/v1/runs');
    expect((listed.body as { runs: unknown[] }).runs).toEqual([]);
  });
});

describe('POST /api/v1/runs with the workflow as a JSON object', () => {
  it('runs it as the same document, and reports a bad one with diagnostics on its JSON text', async () => {
    const { server, request, token } = await startTestServer();
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const workflow = {
      name: 'as-json',
      jobs: { build: { 'runs-on': 'linux', steps: [{ name: 'make', run: 'make all' }] } },
    };
    const created = await request('POST', '/api/v1/runs', { body: { workflow } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ run: { workflowName: 'as-json', jobs: [{ key: 'build' }] } });
    const [lease] = await runner.leases(1);
    expect(lease?.job.steps).toMatchObject([{ name: 'make', run: 'make all' }]);
    runner.transport.close();

    const bad = { name: 'bad', jobs: { build: { 'runs-on': 'linux', stepz: [] } } };
    const refused = await request('POST', '/api/v1/runs', { body: { workflow: bad } });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({
      code: 'VK_INVALID_WORKFLOW',
      path: 'body.workflow',
      diagnostics: [
        { message: 'jobs.build is missing the required key "steps"', line: 4, column: 5 },
        { message: 'unknown key "stepz" in jobs.build (did you mean "steps"?)', line: 6, column: 7 },
      ],
    });
  });
});
