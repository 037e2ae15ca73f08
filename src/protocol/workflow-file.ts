import { isAbsolute } from 'node:path';
import { sha256Hex } from '../core/sha256.js';

/** JobSpec.workflowFile: where the job's workflow file is in its workspace, and which text it was. */
export interface WorkflowFileRef {
  /** Relative to the job's workspace. */
  readonly path: string;
  /** Of the text the job was planned from (workflowTextSha256). */
  readonly sha256: string;
}

/** The SHA-256 of a workflow's text as a string (its UTF-8), in hex: both ends hash it so. */
export function workflowTextSha256(text: string): string {
  return sha256Hex(text);
}

/**
 * Whether `path` names a file inside a workspace: relative, with no `..` segment. Only such a path is
 * sent, and a runner reads no other, whatever a control plane sends.
 */
export function isWorkspacePath(path: string): boolean {
  return path !== '' && !isAbsolute(path) && !path.split(/[\\/]/).includes('..');
}
