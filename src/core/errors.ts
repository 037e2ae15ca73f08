/**
 * Every error Valkyrie raises on purpose has a stable code from this catalog. Codes are never reused;
 * a user-facing message says what was wrong, where, and what was received.
 */
export const errorCatalog = {
  VK_INVALID_WORKFLOW:
    'the workflow has errors (an API answer lists its diagnostics); nothing ran or was created',
  VK_USAGE: 'the command line is invalid',
  VK_WORKFLOW_NOT_FOUND: 'no workflow file was given or found',
  VK_RUN_NOT_FOUND: 'no run with that id',
  VK_JOB_NOT_FOUND: 'no job with that name in the run',
  VK_EXPRESSION: 'an expression could not be evaluated',
  VK_STORE: 'the state store could not be opened or written',
  VK_STORE_NEWER_SCHEMA: 'the state store was written by a newer Valkyrie',
  VK_STORE_UNREACHABLE: 'the database server did not answer (refused, unknown host, or timed out)',
  VK_STORE_LOCKED: 'another process held the SQLite state file locked for longer than the busy timeout',
  VK_STORE_MISSING:
    "a command that only reads found no Valkyrie state in the Postgres schema it was given (no such schema, or one without Valkyrie's tables); nothing was created",
  VK_STORE_IN_USE:
    'another live `valkyrie server` serves the SQLite state file, or keeps its workspace bundles in the same data directory (it holds its server lock there); nothing was opened or written. Replicas need Postgres',
  VK_STORE_CORRUPT: 'the state file is not a SQLite database, or is damaged',
  VK_STORE_FULL: 'the disk holding the SQLite state file is full; the write that met it was rolled back',
  VK_STORE_UNWRITABLE:
    'the SQLite state file or its directory cannot be written by this user (permission denied, read-only file system)',
  VK_ILLEGAL_TRANSITION: 'a state change that the state machine does not allow',
  VK_EXECUTOR: 'the executor could not run a step',
  VK_STALE_LEASE: 'a write carried a fencing token that is no longer current',
  VK_QUEUE_FULL: 'the queue is at capacity; the submission was refused whole',
  VK_IDEMPOTENCY_CONFLICT:
    'the idempotency key already belongs to a run of another workflow (on the API: of another request by the same token; in the library: a job of another task or input); nothing was started',
  VK_LEASE_EXPIRED: 'a lease expired before its holder finished',
  VK_POOL_CONFIG: 'a thread-pool option is invalid',
  VK_POOL_CLOSED: 'the thread pool is closing or closed; the task was not accepted',
  VK_TASK_MODULE: 'a task module reference is invalid',
  VK_PROTOCOL: 'a protocol frame was not valid JSON or did not match the message schema',
  VK_PROTOCOL_VERSION: 'the peer speaks a protocol version this end does not',
  VK_FRAME_TOO_LARGE: 'a protocol frame or batch exceeded the size limit',
  VK_PEER_TIMEOUT: 'the peer stopped answering keep-alives or stopped polling',
  VK_CREDENTIAL_REVOKED:
    'the runner credential a protocol session was opened with was revoked: the session ended, and the credential is refused from now on',
  VK_ENGINE_CONFIG: 'a library engine option or job option is invalid',
  VK_ENGINE_CLOSED: 'the engine is closing or closed; the job was not accepted',
  VK_WORKFLOW_GRAPH: 'a library workflow graph is invalid (unknown node, cycle, duplicate id); nothing ran',
  VK_NOT_JSON:
    "a library job's input or output is a value JSON cannot hold (a BigInt, a Map, a function, a cycle, …); the job failed, its error naming where the value is",
  VK_RUN_NOT_RESUMABLE: 'the run finished, is still owned by a live process, or has no recovery data',
  VK_RUN_TAKEN_OVER: 'another process took the run over; this one stopped driving it',
  VK_RUN_NOT_RERUNNABLE: 'the run has not finished, succeeded, has no failed jobs, or has no recovery data',
  VK_INVALID_REQUEST: 'an API request did not match its schema (the path names the field)',
  VK_INVALID_INPUT:
    "a run's input is not one the workflow declares (on.workflow_dispatch.inputs), a required one is missing, or a value does not fit its type; nothing was started",
  VK_INVALID_JSON: 'an API request body was not valid JSON',
  VK_UNSUPPORTED_MEDIA_TYPE: 'an API request body had a content type the route does not take',
  VK_BODY_TOO_LARGE: 'an API request body exceeded the size limit',
  VK_HEADERS_TOO_LARGE: "an API request's headers exceeded the HTTP server's size limit",
  VK_REQUEST_TIMEOUT:
    "an API request did not arrive whole within the HTTP server's time limit, or its body stopped arriving",
  VK_WORKFLOW_PARSE_TIMEOUT:
    'the server stopped parsing a submitted workflow that took longer than its time limit; nothing was submitted',
  VK_SERVER_BUSY:
    'the server had the most submitted workflows waiting to be parsed that it queues; nothing was submitted, retry later',
  VK_NOT_FOUND: 'no API route or resource at that path',
  VK_METHOD: 'the path does not take that HTTP method (the Allow header lists the ones it takes)',
  VK_UNAUTHORIZED: 'the API request carried no token, or one that is unknown, revoked or expired',
  VK_FORBIDDEN: "the token's role or job does not allow this request; nothing changed",
  VK_SHUTTING_DOWN: 'the server is shutting down and takes no new requests',
  VK_BUNDLE_NOT_FOUND: 'the server has no workspace bundle with that sha256',
  VK_BUNDLE_HASH_MISMATCH: 'an uploaded bundle did not hash to the sha256 in its URL; nothing was stored',
  VK_BUNDLE_DAMAGED:
    "the server's stored copy of a workspace bundle did not hash to its sha256 (a disk fault or a power loss); the server removed it, and submitting again uploads it anew",
  VK_BUNDLE_DOWNLOAD_CUT:
    "a workspace bundle's download stopped before the whole bundle arrived (the connection closed or stalled mid-body, where the response's framing promised more); nothing was unpacked, and the server's copy may be whole",
  VK_RUNNER_NOT_FOUND: 'no runner with that id is known to this server',
  VK_TOKEN_NOT_FOUND: 'no token with that id',
  VK_RUN_FINISHED: 'the run has already finished',
  VK_RUN_NOT_ACTIVE: 'the run is not driven by this server process (another replica, or an earlier process)',
  VK_INTERNAL: 'the server failed unexpectedly (its log has the details)',
  VK_SERVER_START:
    'the server could not start (port in use, bad TLS files, an unusable VALKYRIE_ADMIN_TOKEN)',
  VK_SERVER_UNREACHABLE: 'the Valkyrie server could not be reached',
  VK_TLS_CERTIFICATE:
    "the server's TLS certificate failed verification (self-signed or unknown CA, expired, or for another host name); retrying will not help",
  VK_BUNDLE_TOO_LARGE:
    'the workspace is larger than the bundle size limit (nothing was uploaded), or than the runner can unpack (nothing was written)',
  VK_BUNDLE_CHANGED: 'a workspace file vanished or changed while the bundle was being made',
  VK_BUNDLE_NAME_NOT_UTF8:
    'a workspace file or folder name is not valid UTF-8, which the paths of a bundle must be; nothing was uploaded',
  VK_BUNDLE_UNREADABLE:
    'a workspace file or folder cannot be read by this user (permission denied); nothing was uploaded',
  VK_BUNDLE_GIT:
    "git refused the workspace's repository (one of another user that safe.directory does not trust, a damaged config); nothing was uploaded",
  VK_BUNDLE_UNSAFE: 'a workspace bundle entry would write outside its directory, or is of a refused kind',
  VK_WORKSPACE_NOT_EMPTY: 'a bundle is unpacked only into an empty directory',
  VK_WORK_DIR_IN_USE:
    "another live runner process holds the runner's work dir (its runner.lock); nothing in it was touched",
  VK_SERVER_RESPONSE:
    'the Valkyrie server answered with an error, or with a response this client cannot read',
} as const;

export type ErrorCode = keyof typeof errorCatalog;

/**
 * The HTTP header in which every error answer of the API names its code too: a HEAD answer has no
 * body, and a client still learns from it that the server is restarting, say.
 */
export const errorCodeHeader = 'x-valkyrie-error';

/**
 * The WWW-Authenticate value of every 401 answer, the API's and the runner protocol's: RFC 9110
 * requires a 401 to name the scheme to authenticate with, here RFC 6750's bearer token.
 */
export const bearerChallenge = 'Bearer realm="valkyrie"';

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

/** The store failed (VK_STORE and its kinds): what leaves a run for `valkyrie resume`, unlike a bug. */
export function isStoreError(error: unknown): error is ValkyrieError {
  return isValkyrieError(error) && error.code.startsWith('VK_STORE');
}
