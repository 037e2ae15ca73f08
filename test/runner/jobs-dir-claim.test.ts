import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimJobsDir, jobsDirMarker, sweepJobsDir } from '../../src/runner/jobs-dir-claim.js';

let dir = '';
let jobs = '';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vk-jobs-claim-'));
  jobs = join(dir, 'jobs');
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

const noWarning = (line: string) => {
  throw new Error(`unexpected warning: ${line}`);
};

describe("a runner's <work-dir>/jobs", () => {
  // What it made is said, so that a runner that never registers can take it back (runner.ts).
  it('is claimed and marked when it is not there yet or empty, saying what it made', () => {
    const marker = join(jobs, jobsDirMarker);
    expect(claimJobsDir(jobs, false)).toEqual({ kind: 'claimed', made: [jobs, marker] });
    expect(readdirSync(jobs)).toEqual([jobsDirMarker]);
    rmSync(jobs, { recursive: true });
    mkdirSync(jobs);
    expect(claimJobsDir(jobs, false)).toEqual({ kind: 'claimed', made: [marker] });
    expect(readdirSync(jobs)).toEqual([jobsDirMarker]);
  });

  it('is refused, untouched, when it holds what no runner made: a work dir such as ~ with a jobs folder', () => {
    mkdirSync(join(jobs, 'important'), { recursive: true });
    writeFileSync(join(jobs, 'important', 'file'), 'data');
    expect(claimJobsDir(jobs, false)).toEqual({ kind: 'foreign', entry: 'important' });
    expect(readdirSync(jobs)).toEqual(['important']);
    writeFileSync(join(dir, 'file-jobs'), '');
    expect(claimJobsDir(join(dir, 'file-jobs'), true)).toEqual({ kind: 'foreign', entry: '(it is a file)' });
  });

  it('is claimed with what it holds when marked, or when a runner used the work dir before the marker', () => {
    mkdirSync(join(jobs, '7.1-1'), { recursive: true });
    expect(claimJobsDir(jobs, true)).toEqual({ kind: 'claimed', made: [join(jobs, jobsDirMarker)] });
    expect(claimJobsDir(jobs, false)).toEqual({ kind: 'claimed', made: [] });
    expect(readdirSync(jobs).sort()).toEqual([jobsDirMarker, '7.1-1'].sort());
  });

  it('is swept of what a killed runner left, keeping its marker', async () => {
    claimJobsDir(jobs, false);
    mkdirSync(join(jobs, '7.1-1', 'deep'), { recursive: true });
    writeFileSync(join(jobs, '8.2-1'), '');
    await sweepJobsDir(jobs, noWarning);
    expect(readdirSync(jobs)).toEqual([jobsDirMarker]);
    await sweepJobsDir(join(dir, 'absent'), noWarning);
    expect(existsSync(join(dir, 'absent'))).toBe(false);
  });
});
