import { isValkyrieError, ValkyrieError } from '../core/errors.js';
import type { WorkspaceFor } from '../runner/job-workspaces.js';
import { downloadWorkspace } from '../runner/workspace-download.js';

/**
 * A job with a bundle runs in its unpacked copy, fetched with the job's own token; others in an empty
 * directory. A download that meets an untrusted TLS certificate fails its job and calls `untrusted`.
 */
export function bundleWorkspace(serverUrl: string, untrusted: (line: string) => void): WorkspaceFor {
  return async (job, jobToken, jobDir, signal) => {
    if (job.bundle === undefined) return jobDir;
    if (jobToken === undefined)
      throw new ValkyrieError(
        'VK_SERVER_RESPONSE',
        'the lease names a workspace bundle but carries no job token',
      );
    try {
      return await downloadWorkspace({
        serverUrl,
        jobId: job.jobId,
        jobToken,
        sha256: job.bundle.sha256,
        jobDir,
        signal,
      });
    } catch (error) {
      if (isValkyrieError(error) && error.code === 'VK_TLS_CERTIFICATE') untrusted(error.message);
      throw error;
    }
  };
}
