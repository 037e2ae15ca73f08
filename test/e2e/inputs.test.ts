import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

const workflow = `name: deploy
on:
  workflow_dispatch:
    inputs:
      target:
        type: choice
        options: [staging, production]
        required: true
      dry-run:
        type: boolean
        default: true
      replicas:
        type: number
        default: 2
jobs:
  show:
    runs-on: ubuntu-latest
    if: \${{ inputs.dry-run }}
    steps:
      - run: |
          echo "target=\${{ inputs.target }} replicas=\${{ inputs.replicas }} more=\${{ inputs.replicas > 2 }}" >> seen.txt
          echo "event=\${{ github.event.inputs.dry-run }} typed=\${{ inputs.dry-run == true }}" >> seen.txt
`;

describe('valkyrie run --input', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('gives jobs the typed inputs context and github.event.inputs as strings', async () => {
    const file = ws.write('deploy.yml', workflow);
    const result = await ws.run(['run', file, '--input', 'target=production', '--input', 'replicas=3']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(join(ws.dir, 'seen.txt'), 'utf8')).toBe(
      'target=production replicas=3 more=true\nevent=true typed=true\n',
    );
  });

  it('skips what the inputs turn off', async () => {
    const file = ws.write('deploy.yml', workflow);
    ws.write('seen.txt', '');
    const result = await ws.run([
      'run',
      file,
      '--input',
      'target=staging',
      '--input',
      'dry-run=false',
      '--json',
    ]);
    expect(result.code).toBe(0);
    expect(readFileSync(join(ws.dir, 'seen.txt'), 'utf8')).toBe('');
    expect(result.stdout).toContain('"skipped"');
  });

  it('refuses a missing, unknown or mistyped input with one line and exit 2, starting nothing', async () => {
    const file = ws.write('deploy.yml', workflow);
    const cases: [string[], string][] = [
      [[], 'valkyrie: input "target" is required: give it with --input target=VALUE\n'],
      [
        ['--input', 'target=prod'],
        'valkyrie: input "target" must be one of staging, production, received "prod"\n',
      ],
      [
        ['--input', 'target=staging', '--input', 'replica=1'],
        'valkyrie: unknown input "replica"; the workflow declares target, dry-run, replicas\n',
      ],
      [
        ['--input', 'target=staging', '--input', 'replicas=two'],
        'valkyrie: input "replicas" must be a number, received "two"\n',
      ],
    ];
    for (const [args, message] of cases) {
      const result = await ws.run(['run', file, ...args]);
      expect(result.stderr).toBe(message);
      expect(result.code).toBe(2);
    }
    const runs = await ws.run(['runs', '--json']);
    expect(JSON.parse(runs.stdout)).toHaveLength(2);
  });
});

// Dispatch inputs on a workflow that push starts too: as on GitHub, a push run has none.
const pushedToo = `name: deploy
on:
  push:
  workflow_dispatch:
    inputs:
      dry_run: { type: boolean, default: true }
      target: { default: staging }
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - if: \${{ !inputs.dry_run }}
        run: echo "\${{ github.event_name }} deployed target=[\${{ inputs.target }}] event=[\${{ github.event.inputs.target }}]" >> seen.txt
      - if: \${{ inputs.dry_run }}
        run: echo "\${{ github.event_name }} dry run target=[\${{ inputs.target }}] event=[\${{ github.event.inputs.target }}]" >> seen.txt
`;

// Told when the run starts as push by default, not when --event push asks for it.
const inputlessNote =
  'valkyrie: the run starts as push, which has no inputs on GitHub: inputs.dry_run and inputs.target are empty, not their defaults; --event workflow_dispatch gives them\n';

describe('valkyrie run: the inputs context by the event the run starts as', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('is empty for a push run, the default event here, as GitHub gives no inputs to one', async () => {
    const file = ws.write('deploy.yml', pushedToo);
    ws.write('seen.txt', '');
    for (const [args, note] of [
      [[], inputlessNote],
      [['--event', 'push'], ''],
    ] as const) {
      const result = await ws.run(['run', file, ...args]);
      expect(result.stderr).toBe(note);
      expect(result.code).toBe(0);
    }
    expect(readFileSync(join(ws.dir, 'seen.txt'), 'utf8')).toBe(
      'push deployed target=[] event=[]\n'.repeat(2),
    );
  });

  it('holds the defaults for a workflow_dispatch run', async () => {
    const file = ws.write('deploy.yml', pushedToo);
    ws.write('seen.txt', '');
    const result = await ws.run(['run', file, '--event', 'workflow_dispatch']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(join(ws.dir, 'seen.txt'), 'utf8')).toBe(
      'workflow_dispatch dry run target=[staging] event=[staging]\n',
    );
  });

  it('asks no required dispatch input of a push run, which has none to give', async () => {
    const file = ws.write(
      'deploy.yml',
      pushedToo.replace('target: { default: staging }', 'target: { required: true }'),
    );
    ws.write('seen.txt', '');
    const result = await ws.run(['run', file]);
    expect(result.stderr).not.toContain('required');
    expect(result.code).toBe(0);
    expect(readFileSync(join(ws.dir, 'seen.txt'), 'utf8')).toBe('push deployed target=[] event=[]\n');
  });
});
