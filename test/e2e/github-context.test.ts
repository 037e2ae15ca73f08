import { afterAll, describe, expect, it } from 'vitest';
import { logLines, statuses, Workspace } from './cli.js';

const workflow = `name: deploy
on:
  push:
    branches: [main]
  pull_request:
  workflow_dispatch:
    inputs:
      target:
        default: staging
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - run: echo "event=\${{ github.event_name }} env=$GITHUB_EVENT_NAME inputs=\${{ toJSON(github.event.inputs) }}"
  deploy:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    steps: [{ run: echo deploying }]
`;

describe('valkyrie run: the event a run starts as', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is push by default when on: lists it, workflow_dispatch with --input, or --event', async () => {
    const file = ws.write('deploy.yml', workflow);
    const cases: [string[], string, string][] = [
      [[], 'event=push env=push inputs=null', 'succeeded'],
      [['--input', 'target=prod'], 'event=workflow_dispatch env=workflow_dispatch inputs={', 'skipped'],
      [['--event', 'workflow_dispatch'], 'event=workflow_dispatch env=workflow_dispatch inputs={', 'skipped'],
      [['--event', 'pull_request'], 'event=pull_request env=pull_request inputs=null', 'skipped'],
    ];
    for (const [args, line, deploy] of cases) {
      const result = await ws.run(['run', file, '--json', ...args]);
      expect(result.code).toBe(0);
      expect(logLines(result.stdout, 'show')[0]).toContain(line);
      expect(statuses(result.stdout).deploy).toBe(deploy);
    }
  });

  it('refuses an event on: does not list with one line and exit 2, starting nothing', async () => {
    const file = ws.write('deploy.yml', workflow);
    const result = await ws.run(['run', file, '--event', 'schedule']);
    expect(result.stderr).toMatch(
      /valkyrie: --event schedule: the workflow's on: does not list it \(it lists push, pull_request, workflow_dispatch\)\n$/,
    );
    expect(result.code).toBe(2);
  });
});
