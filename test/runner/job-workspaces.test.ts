import { expect, it } from 'vitest';
import { JobWorkspaces } from '../../src/runner/job-workspaces.js';

it("keeps git inside a network runner's jobs, keeping the ceilings the runner's own environment lists", () => {
  const workspaces = new JobWorkspaces('/srv/runner/jobs');
  expect(workspaces.environment({ PATH: '/usr/bin' }, '/srv/runner/tmp')).toEqual({
    PATH: '/usr/bin',
    GIT_CEILING_DIRECTORIES: '/srv/runner/jobs:/srv/runner/tmp',
  });
  expect(workspaces.environment({ GIT_CEILING_DIRECTORIES: '/home:/mnt' }, '/srv/runner/tmp')).toEqual({
    GIT_CEILING_DIRECTORIES: '/srv/runner/jobs:/srv/runner/tmp:/home:/mnt',
  });
});
