import { isWorkspacePath, type WorkflowFileRef, workflowTextSha256 } from '../protocol/workflow-file.js';
import type { Workflow } from '../workflow/model.js';
import type { RunContext } from './run-context.js';

// Hashed once per workflow, not per job: a file of 1,000 jobs makes 1,000 specs.
const hashes = new WeakMap<Workflow, string>();

/**
 * The JobSpec's `workflowFile`: where the runner finds the file the job was planned from, and the
 * hash that tells it the file there is still that text. None for a workflow built in code (no
 * source) or a run that names no file inside its workspace.
 */
export function workflowFileRef(workflow: Workflow, run: RunContext): { workflowFile?: WorkflowFileRef } {
  const path = run.workflowFile;
  if (workflow.source === undefined || path === undefined || !isWorkspacePath(path)) return {};
  let sha256 = hashes.get(workflow);
  if (sha256 === undefined) {
    sha256 = workflowTextSha256(workflow.source);
    hashes.set(workflow, sha256);
  }
  return { workflowFile: { path, sha256 } };
}
