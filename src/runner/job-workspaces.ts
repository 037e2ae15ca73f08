import { mkdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { inWorkspace, type JobSpec } from '../protocol/job-spec.js';
import { removeTree } from './tree-removal.js';

/**
 * Makes the job's workspace inside `jobDir` (an empty directory that is the job's own) and returns
 * its path: e.g. fetches the job's bundle with `jobToken` and unpacks it there. `signal` is the job's
 * cancel: once it aborts, the call stops what it is waiting for and rejects.
 */
export type WorkspaceFor = (
  job: JobSpec,
  jobToken: string | undefined,
  jobDir: string,
  signal: AbortSignal,
) => Promise<string>;

/** Variables that point git at a repository wherever it runs, its search aside. */
const repositoryVariables = new Set([
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_COMMON_DIR',
  'GIT_INDEX_FILE',
  'GIT_OBJECT_DIRECTORY',
  'GIT_ALTERNATE_OBJECT_DIRECTORIES',
]);

/**
 * Per-job directories of a network runner: `<root>/<job>` is made empty before the job, becomes its
 * workspace (or holds it, with `workspaceFor`), and is removed after the job. What cannot be removed
 * (removeTree) is told to `warn`.
 */
export class JobWorkspaces {
  constructor(
    private readonly root: string,
    private readonly warn: (line: string) => void,
    private readonly workspaceFor?: WorkspaceFor,
  ) {}

  /**
   * The job's directory and the spec with its workspace there. A prepare that throws (a bundle that
   * cannot be fetched or unpacked, or whose making `signal` stopped) removes the directory first: the
   * caller has no `dir` to remove.
   */
  async prepare(
    job: JobSpec,
    jobToken: string | undefined,
    signal: AbortSignal,
  ): Promise<{ dir: string; job: JobSpec }> {
    const dir = join(this.root, directoryName(job.jobId, job.attempt));
    // Only one a killed runner left (of this attempt): the job must not find it, and it was said.
    if (!(await removeTree(dir, this.warn))) throw new Error(`${dir} could not be emptied`);
    try {
      await mkdir(dir, { recursive: true });
      const workspace = this.workspaceFor ? await this.workspaceFor(job, jobToken, dir, signal) : dir;
      return { dir, job: inWorkspace(job, workspace) };
    } catch (error) {
      await this.remove(dir);
      throw error;
    }
  }

  /**
   * `env` for this runner's jobs: GIT_CEILING_DIRECTORIES stops git's search for a repository at the
   * jobs' directory and at `tempRoot` (RUNNER_TEMP's), and the variables that name one outright are
   * left out. A workspace without a `.git` of its own (a bundle made outside git, or with
   * --no-git-dir) is then no repository, as on a fresh GitHub runner, not whatever checkout the work
   * directory happens to sit in, whose history a job would read and whose index it could change.
   * Ceilings already listed stay, after these.
   */
  environment(env: Readonly<Record<string, string>>, tempRoot: string): Record<string, string> {
    const kept = Object.fromEntries(Object.entries(env).filter(([name]) => !repositoryVariables.has(name)));
    const listed = env.GIT_CEILING_DIRECTORIES;
    const ceilings = [this.root, tempRoot, ...(listed ? [listed] : [])];
    return { ...kept, GIT_CEILING_DIRECTORIES: ceilings.join(delimiter) };
  }

  /** Never throws: what cannot be removed is said, and left for the next start to try again. */
  async remove(dir: string): Promise<void> {
    await removeTree(dir, this.warn);
  }
}

/** Job ids come from the control plane: keep only characters that are safe in a file name. */
function directoryName(jobId: string, attempt: number): string {
  const safe = jobId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return `${safe.slice(0, 120)}-${attempt}`;
}
