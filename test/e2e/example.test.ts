import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { logLines, statuses, summary, Workspace } from './cli.js';

const example = resolve(import.meta.dirname, '../../examples/ci.yml');
const repository = resolve(import.meta.dirname, '../..');

describe('the example pipeline', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('runs to success with GitHub names, statuses and masking', async () => {
    const result = await ws.run(['run', example, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(summary(result.stdout).status).toBe('succeeded');
    expect(statuses(result.stdout)).toEqual({
      prepare: 'succeeded',
      lint: 'succeeded',
      'test (ubuntu-latest, 18, unit)': 'succeeded',
      'test (ubuntu-latest, 20, unit)': 'succeeded',
      'test (ubuntu-latest, 20, integration)': 'succeeded',
      'test (ubuntu-latest, 22, unit)': 'succeeded',
      'test (ubuntu-latest, 22, integration)': 'succeeded',
      'flaky-check': 'failed',
      'package (tar)': 'succeeded',
      'package (zip)': 'succeeded',
      'notify-failure': 'skipped',
      report: 'succeeded',
    });
    const prepare = logLines(result.stdout, 'prepare');
    expect(prepare).toContain('the release token is *** (masked in every log)');
    expect(result.stdout).not.toMatch(/tok-\d/);
    expect(logLines(result.stdout, 'test (ubuntu-latest, 22, unit)')).toContain('summary: coverage 93.1%');
    expect(logLines(result.stdout, 'report')).toEqual([
      'package: success',
      'flaky-check: success',
      'all green',
    ]);
    expect(logLines(result.stdout, 'package (zip)')[0]).toMatch(/^packed valkyrie-demo-1\.4\.\d+\.zip$/);
  });

  it('keeps the run for runs, show and logs', async () => {
    const runs = await ws.run(['runs']);
    expect(runs.code).toBe(0);
    expect(runs.stdout).toMatch(/^1\s+succeeded\s+.*ci #1$/m);
    const show = await ws.run(['show', '1']);
    expect(show.stdout).toMatch(/✓ succeeded prepare/);
    expect(show.stdout).toMatch(/✗ failed\s+flaky-check/);
    const logs = await ws.run(['logs', '1', 'prepare']);
    expect(logs.stdout).toContain('the release token is ***');
    expect(logs.stdout).not.toMatch(/tok-\d/);
  });

  it('runs the task-step example from the repository root', async () => {
    const result = await ws.run(
      ['run', 'examples/tasks.yml', '--json', '--state-dir', ws.dir],
      {},
      repository,
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ thumbnails: 'succeeded' });
    expect(logLines(result.stdout, 'thumbnails')).toEqual([
      'resizing photos/cat.jpg to 200px wide (attempt 1)',
      'progress: {"done":1,"of":1}',
      'thumbnail 200x150 (30000 pixels)',
      '3 photos in the album',
    ]);
  });
});
