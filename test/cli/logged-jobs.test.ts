import { describe, expect, it } from 'vitest';
import { followedJobs, loggedJobs } from '../../src/cli/logged-jobs.js';
import { ValkyrieError } from '../../src/core/errors.js';

const jobs = [
  { id: 'j1', name: 'build', key: 'build' },
  { id: 'j2', name: 'test (node 20)', key: 'test' },
  { id: 'j3', name: 'test (node 22)', key: 'test' },
];

function refusal(status: string, jobName: string): ValkyrieError {
  try {
    loggedJobs({ id: '7', status }, jobs, jobName);
  } catch (error) {
    if (error instanceof ValkyrieError) return error;
    throw error;
  }
  throw new Error(`loggedJobs accepted ${jobName} on a ${status} run`);
}

describe('loggedJobs', () => {
  it('keeps every job without a name, and picks by key, by leg name or by id', () => {
    const run = { id: '7', status: 'succeeded' };
    expect(loggedJobs(run, jobs, undefined)).toEqual(jobs);
    expect(loggedJobs(run, jobs, 'test').map((job) => job.id)).toEqual(['j2', 'j3']);
    expect(loggedJobs(run, jobs, 'test (node 22)').map((job) => job.id)).toEqual(['j3']);
    expect(loggedJobs(run, jobs, 'j1').map((job) => job.id)).toEqual(['j1']);
  });

  it("picks every leg of a matrix job by the job's own name, as GitHub shows it above its legs", () => {
    const named = [
      { id: 'k1', name: 'Build App (1)', key: 'build' },
      { id: 'k2', name: 'Build App (2)', key: 'build' },
      { id: 'k3', name: 'Build App docs', key: 'docs' },
    ];
    const run = { id: '7', status: 'succeeded' };
    expect(loggedJobs(run, named, 'Build App').map((job) => job.id)).toEqual(['k1', 'k2']);
    expect(loggedJobs(run, named, 'Build App (2)').map((job) => job.id)).toEqual(['k2']);
    expect(() => loggedJobs(run, named, 'Build')).toThrow(ValkyrieError);
  });

  it('says a finished run has no such job, and lists the jobs it has', () => {
    for (const status of ['succeeded', 'failed', 'cancelled']) {
      const error = refusal(status, 'deploy');
      expect(error.code).toBe('VK_JOB_NOT_FOUND');
      expect(error.message).toBe(
        'run 7 has no job "deploy"; its jobs: build, test (node 20), test (node 22)',
      );
    }
  });

  it('says an unfinished run may add the job still, and how to follow the whole run', () => {
    for (const status of ['queued', 'running']) {
      const error = refusal(status, 'deploy');
      expect(error.code).toBe('VK_JOB_NOT_FOUND');
      expect(error.message).toContain(
        'run 7 has no job "deploy" yet; its jobs so far: build, test (node 20)',
      );
      expect(error.message).toContain('a job that needs others is added once they finish');
    }
    expect(() => loggedJobs({ id: '8', status: 'queued' }, [], 'build')).toThrow('its jobs so far: none');
  });
});

describe('followedJobs', () => {
  it('follows every job without a name, else the chosen jobs by id and by name', () => {
    expect(followedJobs(jobs, undefined)).toBeUndefined();
    const chosen = followedJobs(jobs.slice(1), 'test');
    expect([...(chosen?.ids ?? [])]).toEqual(['j2', 'j3']);
    expect([...(chosen?.names ?? [])]).toEqual(['test (node 20)', 'test (node 22)']);
  });
});
