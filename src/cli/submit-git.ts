import { type GitContext, maxCommitMessageLength } from '../core/git-context.js';
import { ApiRequestError } from './api-client.js';
import { readGitContext } from './git-info.js';
import type { ApiRun, CreateRunBody, ServerClient } from './server-client.js';

/**
 * The git context `valkyrie submit` sends with a run, read from the workspace as `valkyrie run` reads
 * it (HEAD's commit only when the run starts as a push); undefined without any (not a git repository).
 * A commit message longer than the API takes is cut to its limit.
 */
export function submittedGitContext(workspace: string, eventName: string): GitContext | undefined {
  const git = readGitContext(workspace, eventName === 'push');
  if (Object.values(git).every((value) => value === undefined)) return undefined;
  const commit = git.commit;
  if (commit === undefined || commit.message.length <= maxCommitMessageLength) return git;
  return { ...git, commit: { ...commit, message: commit.message.slice(0, maxCommitMessageLength) } };
}

/**
 * Creates the run. A server from before the `git` field refuses it (400, an unrecognized key): then
 * the run is created again without it, after a warning that its jobs see no git context. Nothing was
 * created by the refused request, so the retry cannot make a second run (and it carries the same
 * idempotency key).
 */
export async function createRunWithGit(
  client: Pick<ServerClient, 'createRun'>,
  body: CreateRunBody,
  idempotencyKey: string | undefined,
  warn: (line: string) => void,
): Promise<{ run: ApiRun; created: boolean }> {
  try {
    return await client.createRun(body, idempotencyKey);
  } catch (error) {
    if (body.git === undefined || !refusesGitField(error)) throw error;
    warn(
      'valkyrie: warning: the server predates the run request\u2019s git field: this run\u2019s github.sha, ' +
        'github.ref, github.repository and push payload are empty (upgrade the server to have them)',
    );
    const { git: _omitted, ...older } = body;
    return client.createRun(older, idempotencyKey);
  }
}

/** An older server's strict body schema naming `git` among the keys it does not know. */
function refusesGitField(error: unknown): boolean {
  return (
    error instanceof ApiRequestError &&
    error.status === 400 &&
    error.serverCode === 'VK_INVALID_REQUEST' &&
    error.body.path === 'body' &&
    typeof error.body.message === 'string' &&
    /Unrecognized keys?: .*"git"/.test(error.body.message)
  );
}
