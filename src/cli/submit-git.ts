import { type GitContext, maxCommitMessageLength } from '../core/git-context.js';
import { runGitSchema } from '../protocol/run-git.js';
import { ApiRequestError } from './api-error-answer.js';
import type { FieldFlags } from './field-flags.js';
import { readGitContext } from './git-info.js';
import type { ApiRun } from './run-answer.js';
import type { CreateRunBody, ServerClient } from './server-client.js';

/**
 * The git context `valkyrie submit` sends with a run, read from the workspace as `valkyrie run` reads
 * it (HEAD's commit only when the run starts as a push); undefined without any (not a git repository).
 * A commit message longer than the API takes is cut to its limit; a field the API would refuse anyway
 * (an origin whose URL it cannot take, a control character in a path) is left out after a warning
 * naming it, so that a checkout's oddity never stops the submit.
 */
export function submittedGitContext(
  workspace: string,
  eventName: string,
  warn: (line: string) => void,
): GitContext | undefined {
  const read = readGitContext(workspace, eventName === 'push');
  const commit = read.commit;
  const git =
    commit === undefined || commit.message.length <= maxCommitMessageLength
      ? read
      : { ...read, commit: { ...commit, message: commit.message.slice(0, maxCommitMessageLength) } };
  const checked = withoutRefusedFields(git, warn);
  return Object.values(checked).every((value) => value === undefined) ? undefined : checked;
}

/** `git` without the fields runGitSchema refuses, each named in one warning line. */
export function withoutRefusedFields(git: GitContext, warn: (line: string) => void): GitContext {
  const kept = Object.entries(git).filter(([key, value]) => {
    if (value === undefined) return false;
    const result = runGitSchema.safeParse({ [key]: value });
    if (result.success) return true;
    const issue = result.error.issues[0];
    const path = issue?.path ?? [key];
    const received = valueAt({ [key]: value }, path);
    warn(
      `valkyrie: warning: git.${key} is left out of the run: the server would refuse ` +
        `${['git', ...path].map(String).join('.')} (${issue?.message ?? 'invalid'})` +
        (typeof received === 'string' ? `, read ${JSON.stringify(received.slice(0, 200))}` : ''),
    );
    return false;
  });
  const result = runGitSchema.safeParse(Object.fromEntries(kept));
  return result.success ? result.data : {};
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
  fieldFlags: FieldFlags = {},
): Promise<{ run: ApiRun; created: boolean }> {
  try {
    return await client.createRun(body, idempotencyKey, fieldFlags);
  } catch (error) {
    if (body.git === undefined || !refusesGitField(error)) throw error;
    warn(
      'valkyrie: warning: the server predates the run request\u2019s git field: this run\u2019s github.sha, ' +
        'github.ref, github.repository and push payload are empty (upgrade the server to have them)',
    );
    const { git: _omitted, ...older } = body;
    return client.createRun(older, idempotencyKey, fieldFlags);
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
    // Only servers from before `git` refuse it, and they word it as zod does.
    /Unrecognized keys?: .*"git"/.test(error.body.message)
  );
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) at = typeof at === 'object' && at !== null ? Reflect.get(at, key) : undefined;
  return at;
}
