import type { Authenticate, Authentication, LogError } from '../protocol/handshake.js';
import { ApiError } from './api-error.js';
import type { RunnerDirectory } from './runner-directory.js';
import { tokenCheck } from './token-check.js';
import type { TokenAuthority } from './tokens.js';

/**
 * Who may open a runner connection (WebSocket or long-poll): a runner credential, while the server
 * takes new connections (from its start until its shutdown begins, `intake.stopped`, however far the
 * check had come); the accepted principal is the runner's id.
 */
export function runnerAuthentication(
  authority: TokenAuthority,
  intake: { stopped: boolean },
  directory: RunnerDirectory,
  /** RunTakeover.firstSweep: a runner resuming leases on runs taken over at start must find them. */
  takenOverAtStart: Promise<void>,
  /** Told a bug the check met after the shutdown began, which the runner is not told of. */
  logError: LogError,
): Authenticate<string> {
  const check = credentialCheck(authority, directory, takenOverAtStart);
  return async ({ headers }) => {
    // A draining server keeps the connections it has (their jobs report through them) but takes no
    // new ones: the runner retries, and reaches another replica or this one after a restart.
    if (intake.stopped) return shuttingDown;
    let verdict: Authentication<string>;
    try {
      verdict = await check(headers.authorization);
    } catch (error) {
      // A bug: 500 VK_INTERNAL (ConnectionAdmission logs it) while the server takes connections.
      if (!intake.stopped) throw error;
      // After the shutdown began, what a later try meets is another replica or this one restarted:
      // the runner is told so, as for any other end of its check; the bug is no less one for the log.
      logError(error);
      return shuttingDown;
    }
    // The same for one whose check ended after the shutdown began: a store the shutdown closed or cut
    // meanwhile failed it (VK_STORE), which is no outage for the runner to wait out here.
    return intake.stopped ? shuttingDown : verdict;
  };
}

const shuttingDown = {
  kind: 'rejected',
  status: 503,
  code: 'VK_SHUTTING_DOWN',
  message: 'the server is shutting down and takes no new runner connections',
} as const;

/** Whether `authorization` holds a runner credential (tokenCheck). */
function credentialCheck(
  authority: TokenAuthority,
  directory: RunnerDirectory,
  takenOverAtStart: Promise<void>,
): (authorization: string | undefined) => Promise<Authentication<string>> {
  return tokenCheck(authority, async (principal) => {
    if (principal.kind !== 'token' || principal.role !== 'credential')
      throw new ApiError(
        403,
        'VK_FORBIDDEN',
        'the runner protocol takes a runner credential (from POST /api/v1/runners/register)',
      );
    // A mode an operator set on another replica applies from the runner's register on.
    await directory.refreshModes();
    await takenOverAtStart;
    return principal.id;
  });
}
