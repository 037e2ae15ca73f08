/**
 * Every error Valkyrie raises on purpose has a stable code from this catalog. Codes are never reused;
 * a user-facing message says what was wrong, where, and what was received.
 */
export const errorCatalog = {
  VK_INVALID_WORKFLOW: 'the workflow file has errors; nothing ran',
  VK_USAGE: 'the command line is invalid',
  VK_WORKFLOW_NOT_FOUND: 'no workflow file was given or found',
  VK_RUN_NOT_FOUND: 'no run with that id',
  VK_JOB_NOT_FOUND: 'no job with that name in the run',
  VK_EXPRESSION: 'an expression could not be evaluated',
  VK_STORE: 'the state store could not be opened or written',
  VK_STORE_NEWER_SCHEMA: 'the state store was written by a newer Valkyrie',
  VK_ILLEGAL_TRANSITION: 'a state change that the state machine does not allow',
  VK_EXECUTOR: 'the executor could not run a step',
  VK_STALE_LEASE: 'a write carried a fencing token that is no longer current',
  VK_QUEUE_FULL: 'the queue is at capacity; the submission was refused whole',
  VK_LEASE_EXPIRED: 'a lease expired before its holder finished',
  VK_POOL_CONFIG: 'a thread-pool option is invalid',
  VK_POOL_CLOSED: 'the thread pool is closing or closed; the task was not accepted',
  VK_TASK_MODULE: 'a task module reference is invalid',
  VK_PROTOCOL: 'a protocol frame was not valid JSON or did not match the message schema',
  VK_PROTOCOL_VERSION: 'the peer speaks a protocol version this end does not',
  VK_FRAME_TOO_LARGE: 'a protocol frame or batch exceeded the size limit',
  VK_PEER_TIMEOUT: 'the peer stopped answering keep-alives or stopped polling',
  VK_ENGINE_CONFIG: 'a library engine option or job option is invalid',
  VK_ENGINE_CLOSED: 'the engine is closing or closed; the job was not accepted',
  VK_WORKFLOW_GRAPH: 'a library workflow graph is invalid (unknown node, cycle, duplicate id); nothing ran',
  VK_RUN_NOT_RESUMABLE: 'the run finished, is still owned by a live process, or has no recovery data',
  VK_BUNDLE_TOO_LARGE: 'the workspace is larger than the bundle size limit; nothing was uploaded',
  VK_BUNDLE_CHANGED: 'a workspace file vanished or changed while the bundle was being made',
  VK_BUNDLE_UNSAFE: 'a workspace bundle entry would write outside its directory, or is of a refused kind',
  VK_BUNDLE_HASH_MISMATCH: "a workspace bundle's sha256 is not the one it was named by",
  VK_WORKSPACE_NOT_EMPTY: 'a bundle is unpacked only into an empty directory',
  VK_SERVER_UNREACHABLE: 'the Valkyrie server could not be reached',
  VK_SERVER_RESPONSE:
    'the Valkyrie server answered with an error, or with a response this client cannot read',
} as const;

export type ErrorCode = keyof typeof errorCatalog;

export class ValkyrieError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ValkyrieError';
    this.code = code;
  }
}

export function isValkyrieError(error: unknown): error is ValkyrieError {
  return error instanceof ValkyrieError;
}
