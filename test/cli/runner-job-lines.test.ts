import { describe, expect, it } from 'vitest';
import { runnerJobLine } from '../../src/cli/runner-job-lines.js';
import { quotedVisible } from '../../src/core/visible-text.js';
import type { JobSpec } from '../../src/protocol/job-spec.js';

/** Only what the line reads of a job. */
const job = (name: string) => ({ runId: '7', name, attempt: 2 }) as JobSpec;

describe("valkyrie runner's line for a job's start and end", () => {
  it('names the job, its run and attempt, and how it ended, with the reason', () => {
    const build = job('build (linux)');
    expect(runnerJobLine({ kind: 'started', job: build })).toBe(
      'running job "build (linux)" of run 7 (run attempt 2)',
    );
    expect(runnerJobLine({ kind: 'ended', job: build, outcome: { kind: 'succeeded' }, ms: 61_000 })).toBe(
      'job "build (linux)" of run 7 (run attempt 2) succeeded in 1m1s',
    );
    expect(
      runnerJobLine({
        kind: 'ended',
        job: build,
        outcome: { kind: 'cancelled', reason: 'the runner is shutting down (second SIGTERM)' },
        ms: 3_200,
      }),
    ).toBe(
      'job "build (linux)" of run 7 (run attempt 2) cancelled after 3.2s: the runner is shutting down (second SIGTERM)',
    );
    expect(runnerJobLine({ kind: 'ended', job: build, outcome: { kind: 'timed_out' }, ms: 500 })).toBe(
      'job "build (linux)" of run 7 (run attempt 2) timed out after 500ms',
    );
  });

  it("names the run's attempt only for a re-run", () => {
    const first = { runId: '7', name: 'build', attempt: 1 } as JobSpec;
    expect(runnerJobLine({ kind: 'started', job: first })).toBe('running job "build" of run 7');
  });

  it("escapes control characters in the job's name and the reason, which workflows and servers write", () => {
    expect(
      runnerJobLine({
        kind: 'ended',
        job: job('a\u001b[2Jb'),
        outcome: { kind: 'failed', reason: 'line one\nline two' },
        ms: 10,
      }),
    ).toBe('job "a\\x1b[2Jb" of run 7 (run attempt 2) failed after 10ms: line one\\nline two');
  });

  it("escapes a name's own quotes and backslashes, so that where it ends is unambiguous", () => {
    expect(runnerJobLine({ kind: 'started', job: job('say "hi"') })).toBe(
      'running job "say \\"hi\\"" of run 7 (run attempt 2)',
    );
    expect(quotedVisible('Run echo "n=3 \\ m"\x1b')).toBe('"Run echo \\"n=3 \\\\ m\\"\\x1b"');
  });
});
