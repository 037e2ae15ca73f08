import { isAbsolute, normalize } from 'node:path';

/**
 * `uses: ./path/to/dir`: a local action, a directory of the workflow's own repository holding an
 * `action.yml` (or `action.yaml`). It needs nothing from the network, so it runs where the step runs:
 * the runner reads the action from the job's workspace (the working tree `valkyrie run` runs in, or
 * the bundle `valkyrie submit` sent) when the step starts (runner/local-action-step.ts).
 */

/** Whether `uses:` names a local action (well formed or not): GitHub's `./` form. */
export function isLocalActionUses(uses: string): boolean {
  return uses.startsWith('./');
}

/** `docker://image`: a Docker container action, which Valkyrie does not run. */
export function isDockerUses(uses: string): boolean {
  return uses.startsWith('docker://');
}

/**
 * Why a step cannot use a workflow file of `.github/workflows/`, here (`./…`) or in another repository
 * (`owner/repo/…@ref`); undefined for any other `uses:`.
 */
export function reusableWorkflowStepProblem(uses: string): string | undefined {
  if (!/^(?:\.\/|[^/@\s]+\/[^/@\s]+\/)\.github\/workflows\/[^/@\s]+\.ya?ml(?:@\S*)?$/.test(uses.trim()))
    return undefined;
  return `step uses the reusable workflow "${uses}": reusable workflows are called by a job\u2019s uses: (jobs.<job_id>.uses), not within steps, as on GitHub; and Valkyrie does not support calling one yet: copy its jobs into this workflow`;
}

/** What is wrong with a local action's path, with the offset in `uses:` to point at, or undefined. */
export function localActionPathProblem(uses: string): { message: string; offset: number } | undefined {
  const path = uses.trim();
  if (path.includes('${{')) {
    return { message: `the local action path "${uses}" must be literal, without \${{ }}`, offset: 0 };
  }
  if (path.includes('@')) {
    return {
      message: `a local action takes no @ref: "${uses}" is read from the job\u2019s workspace as it is; remove @\u2026`,
      offset: path.indexOf('@'),
    };
  }
  if (isAbsolute(path) || normalize(path).split(/[\\/]/)[0] === '..') {
    return { message: `the local action "${uses}" points outside the workspace`, offset: 0 };
  }
  return undefined;
}

/** The workspace-relative directory of a local action: `./.github/actions/hello/` is `.github/actions/hello`. */
export function localActionDirectory(uses: string): string {
  const normalized = normalize(uses.trim()).replace(/[\\/]+$/, '');
  return normalized === '' ? '.' : normalized;
}
