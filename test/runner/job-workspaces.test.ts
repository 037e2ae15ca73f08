import { expect, it } from 'vitest';
import { JobWorkspaces } from '../../src/runner/job-workspaces.js';

it("keeps git inside a network runner's jobs: ceilings first, the runner's own after, no repository named", () => {
  const workspaces = new JobWorkspaces('/srv/runner/jobs', () => {});
  expect(workspaces.environment({ PATH: '/usr/bin' }, '/srv/runner/tmp')).toEqual({
    PATH: '/usr/bin',
    GIT_CEILING_DIRECTORIES: '/srv/runner/jobs:/srv/runner/tmp',
  });
  const runnerEnv = {
    GIT_CEILING_DIRECTORIES: '/home:/mnt',
    GIT_DIR: '/home/ci/.git',
    GIT_WORK_TREE: '/home/ci',
  };
  expect(workspaces.environment(runnerEnv, '/srv/runner/tmp')).toEqual({
    GIT_CEILING_DIRECTORIES: '/srv/runner/jobs:/srv/runner/tmp:/home:/mnt',
  });
});
