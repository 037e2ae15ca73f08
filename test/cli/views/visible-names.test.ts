import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logsCommand, runsCommand, showCommand } from '../../../src/cli/commands/history.js';
import { colors } from '../../../src/cli/views/format.js';
import { matrixFilterLine } from '../../../src/cli/views/job-selection.js';
import { LineView } from '../../../src/cli/views/line-view.js';
import { logLinesWithHeadings } from '../../../src/cli/views/log-sections.js';
import { textTable } from '../../../src/cli/views/text-table.js';
import { jobIdFor } from '../../../src/core/ids.js';
import { visible } from '../../../src/core/visible-text.js';
import { openSqliteStores } from '../../../src/store/sqlite/index.js';

const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function printed(command: () => Promise<number>): Promise<string> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  expect(await command()).toBe(0);
  vi.mocked(process.stdout.write).mockRestore();
  return out;
}

describe('names printed by the text views', () => {
  it('escapes control characters: C0, DEL and C1', () => {
    expect(visible('a\u001b[2Jb\nc\td\r\u0000\u007f\u009b ü')).toBe('a\\x1b[2Jb\\nc\\td\\r\\x00\\x7f\\x9b ü');
    expect(textTable([['NAME'], ['evil\nFAKE admin x']])).toBe('NAME\nevil\\nFAKE admin x\n');
  });

  it("show's --matrix line escapes the filter's keys and values (a server's, or one stored before they were refused)", () => {
    const filter = { 'o\u001b[2Js': ['x\u001b[31mRED', 'y\nFAKE'] };
    expect(matrixFilterLine(filter, colors(false))).toBe(
      '  only the matrix legs kept by --matrix o\\x1b[2Js=x\\x1b[31mRED --matrix o\\x1b[2Js=y\\nFAKE; the other legs were not run',
    );
  });

  it('valkyrie runs and show print workflow, job and reason text with control characters escaped', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'valkyrie-visible-'));
    dirs.push(stateDir);
    const stores = openSqliteStores(join(stateDir, 'valkyrie.db'));
    const run = await stores.runs.createRun({
      workflowName: 'evil\u001b[2J\n7      succeeded',
      workflowPath: 'ci.yml',
      createdAt: 1,
    });
    const jobId = jobIdFor(run.id, 0);
    await stores.runs.addJobs([
      { id: jobId, runId: run.id, key: 'a', name: 'job\u001b]0;title\u0007', matrix: {}, status: 'pending' },
    ]);
    await stores.runs.updateJob(jobId, {
      status: 'failed',
      reason: 'bad\u001b[31m',
      startedAt: 1,
      finishedAt: 2,
    });
    await stores.close();
    const runs = await printed(() => runsCommand({ stateDir }));
    const show = await printed(() => showCommand(run.id, { stateDir }));
    for (const out of [runs, show]) {
      // Newlines end lines; no other control character is printed.
      expect(out.replaceAll('\n', '')).not.toMatch(/\p{Cc}/u);
      expect(out).toContain('evil\\x1b[2J\\n7      succeeded');
    }
    expect(show).toContain('job\\x1b]0;title\\x07');
    expect(show).toContain('bad\\x1b[31m');
  });

  it("a run's followed view (run, submit --follow, logs -f) escapes names and reasons, and leaves a step's own output as it printed it", () => {
    const written: string[] = [];
    const view = new LineView({ write: (text) => written.push(text) }, colors(false));
    const job = 'job\nname';
    view.onEvent({
      type: 'run.started',
      runId: '7',
      runNumber: 1,
      workflow: 'evil\u001b[31mRED\nforged',
      at: 0,
    });
    view.onEvent({ type: 'job.queued', jobId: '7.1', name: job, at: 0, noRunnerWith: ['gpu\u001b[2J'] });
    view.onEvent({ type: 'step.started', jobId: '7.1', job, index: 0, step: 'st\u001bep', at: 1 });
    view.onEvent({
      type: 'log',
      jobId: '7.1',
      job,
      stepIndex: 0,
      stream: 'stdout',
      text: '\u001b[32mgreen\u001b[0m',
      at: 2,
    });
    view.onEvent({
      type: 'step.completed',
      jobId: '7.1',
      job,
      step: {
        index: 0,
        name: 'st\u001bep',
        outcome: 'failure',
        conclusion: 'failure',
        exitCode: 1,
        finishedAt: 3,
      },
    });
    view.onEvent({
      type: 'job.completed',
      jobId: '7.1',
      name: job,
      status: 'failed',
      durationMs: 2,
      reason: 'r\u0007',
      at: 3,
    });
    view.close();
    expect(written).toEqual([
      'Run 7 of evil\\x1b[31mRED\\nforged (#1)\n',
      '[job\\nname] waiting for a runner with the label gpu\\x1b[2J: no connected runner has it\n',
      '[job\\nname] ▶ st\\x1bep\n',
      '[job\\nname] \u001b[32mgreen\u001b[0m\n',
      '[job\\nname] ✗ st\\x1bep failed (exit code 1)\n',
      '[job\\nname] ✗ failed in 2ms: r\\x07\n',
    ]);
  });

  it('valkyrie logs escapes the job prefix and the step headings', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'valkyrie-visible-'));
    dirs.push(stateDir);
    const stores = openSqliteStores(join(stateDir, 'valkyrie.db'));
    const run = await stores.runs.createRun({ workflowName: 'w', workflowPath: 'ci.yml', createdAt: 1 });
    const jobs = ['a\nforged', 'b\u001b[2J'].map((name, i) => ({
      id: jobIdFor(run.id, i),
      runId: run.id,
      key: `k${i}`,
      name,
      matrix: {},
      status: 'succeeded' as const,
    }));
    await stores.runs.addJobs(jobs);
    await stores.logs.append(
      jobs.map(({ id }) => ({
        runId: run.id,
        jobId: id,
        stepIndex: 0,
        stream: 'stdout' as const,
        at: 5,
        text: 'hi',
      })),
    );
    await stores.close();
    const out = await printed(() => logsCommand(run.id, undefined, { stateDir }));
    expect(out.replaceAll('\n', '')).not.toMatch(/\p{Cc}/u);
    expect(out).toContain('[a\\nforged] hi\n');
    expect(out).toContain('[b\\x1b[2J] hi\n');
    const headed = logLinesWithHeadings(
      [{ jobId: 'j', stepIndex: 0, text: 'x' }],
      [{ jobId: 'j', index: 0, name: 'st\u001bep', conclusion: 'success', outcome: 'success' }],
      [{ id: 'j', attempts: 1 }],
    );
    expect(headed[0]?.heading).toBe('▶ st\\x1bep');
  });
});
