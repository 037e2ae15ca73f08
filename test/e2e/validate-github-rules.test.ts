import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/** `valkyrie validate` through the built CLI, on what GitHub refuses or takes in a workflow file. */
describe('validate: workflow rules as GitHub has them', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const jobs = 'jobs:\n  a:\n    runs-on: self-hosted\n    steps: [{ run: echo }]\n';

  /** `refused` (as NAME.yml) exits 2 with `error` after its file name and no stack; `taken` exits 0. */
  async function refusesThenTakes(name: string, refused: string, error: string, taken: string) {
    const result = await ws.run(['validate', ws.write(`${name}.yml`, `${refused}\n${jobs}`)]);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain(`${name}.yml:${error}`);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const good = ws.write(`${name}-ok.yml`, `${taken}\n${jobs}`);
    expect(await ws.run(['validate', good])).toMatchObject({ code: 0, stderr: '' });
  }

  it('exits 2 for a cron GitHub refuses, naming the entry and the field at its line', async () => {
    await refusesThenTakes(
      'cron',
      'on:\n  schedule:\n    - cron: "0 0 * * *"\n    - cron: "0 12-4 * * *"',
      '4:7: error: on.schedule[1].cron "0 12-4 * * *" the hour field "12-4" has a range "12-4" that starts after it ends',
      'on:\n  schedule:\n    - cron: "*/15 9-17 * JAN-jun mon-FRI"',
    );
  });

  it('exits 2 for an activity type the event does not have, at its entry, with the closest one', async () => {
    await refusesThenTakes(
      'types',
      'on:\n  pull_request:\n    types: [opened, openned]',
      '3:21: error: on.pull_request.types[1] "openned" is not an activity type of pull_request (did you mean "opened"?) (it takes: assigned, unassigned, labeled,',
      'on:\n  pull_request:\n    types: [opened, synchronize]\n  repository_dispatch:\n    types: [deploy]',
    );
  });

  it('exits 2 for a workflow_call input without a type, at its line', async () => {
    await refusesThenTakes(
      'called',
      'on:\n  workflow_call:\n    inputs:\n      target:\n        default: staging',
      `4:7: error: input "target" of workflow_call needs a type: (string, number, boolean); GitHub requires one for a called workflow's inputs`,
      'on:\n  workflow_call:\n    inputs:\n      target: { type: string, default: staging }',
    );
  });

  it('takes a number as a concurrency group and a number or boolean as an output, as GitHub does', async () => {
    const file = ws.write(
      'literals.yml',
      'concurrency: 5\njobs:\n  a:\n    runs-on: self-hosted\n    concurrency: { group: 7 }\n    outputs:\n      count: 3\n      ready: true\n    steps: [{ run: echo }]\n',
    );
    expect(await ws.run(['validate', file])).toMatchObject({ code: 0, stderr: '' });
    const list = ws.write(
      'list-output.yml',
      'jobs:\n  a:\n    runs-on: self-hosted\n    outputs:\n      many: [1, 2]\n    steps: [{ run: echo }]\n',
    );
    const refused = await ws.run(['validate', list]);
    expect(refused).toMatchObject({ code: 2, stdout: '' });
    expect(refused.stderr).toContain(
      'list-output.yml:5:13: error: jobs.a.outputs.many must be a string, received a list',
    );
  });
});
