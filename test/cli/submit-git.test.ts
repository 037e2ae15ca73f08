import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiRequestError } from '../../src/cli/api-error-answer.js';
import type { ApiRun } from '../../src/cli/run-answer.js';
import type { CreateRunBody } from '../../src/cli/server-client.js';
import { createRunWithGit, submittedGitContext, withoutRefusedFields } from '../../src/cli/submit-git.js';

const run: ApiRun = { id: 'r1', runNumber: 1, workflowName: 'ci', status: 'queued' };
const git = { sha: 'a'.repeat(40), ref: 'refs/heads/main' };
const noWarning = (line: string) => {
  throw new Error(`unexpected warning: ${line}`);
};

/** A client whose server answers each createRun with the next of `answers` (an error is thrown). */
function clientAnswering(...answers: (ApiRun | Error)[]) {
  const bodies: CreateRunBody[] = [];
  const keys: (string | undefined)[] = [];
  return {
    bodies,
    keys,
    async createRun(body: CreateRunBody, key?: string) {
      bodies.push(body);
      keys.push(key);
      const answer = answers.shift();
      if (answer === undefined || answer instanceof Error) throw answer ?? new Error('no answer left');
      return { run: answer, created: true };
    },
  };
}

/** What a server from before the field answers: its strict body schema names the unknown key. */
const olderServerRefusal = (keys: string) =>
  new ApiRequestError(400, 'VK_INVALID_REQUEST', `VK_INVALID_REQUEST: body: Unrecognized ${keys}`, {
    code: 'VK_INVALID_REQUEST',
    message: `body: Unrecognized ${keys}`,
    path: 'body',
  });

describe('createRunWithGit', () => {
  it('sends git; a server that does not know the field gets the run again without it, after a warning', async () => {
    const client = clientAnswering(olderServerRefusal('key: "git"'), run);
    const warnings: string[] = [];
    const created = await createRunWithGit(client, { workflow: 'x', git }, 'key-1', (line) =>
      warnings.push(line),
    );
    expect(created).toEqual({ run, created: true });
    expect(client.bodies).toEqual([{ workflow: 'x', git }, { workflow: 'x' }]);
    expect(client.keys).toEqual(['key-1', 'key-1']);
    expect(warnings).toEqual([expect.stringMatching(/server predates .*git field.*github\.sha.* are empty/)]);
  });

  it('does not retry another refusal, nor one when no git was sent', async () => {
    const invalid = new ApiRequestError(400, 'VK_INVALID_REQUEST', 'bad sha', {
      message: 'body.git.sha: a commit sha',
      path: 'body.git.sha',
    });
    const refused = clientAnswering(invalid, run);
    await expect(createRunWithGit(refused, { workflow: 'x', git }, undefined, () => {})).rejects.toBe(
      invalid,
    );
    expect(refused.bodies).toHaveLength(1);
    const older = olderServerRefusal('key: "git"');
    const without = clientAnswering(older, run);
    await expect(createRunWithGit(without, { workflow: 'x' }, undefined, () => {})).rejects.toBe(older);
    const event = olderServerRefusal('key: "event"');
    const other = clientAnswering(event, run);
    await expect(createRunWithGit(other, { workflow: 'x', git }, undefined, () => {})).rejects.toBe(event);
  });
});

describe('submittedGitContext', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-submit-git-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is nothing outside git, and cuts a message longer than the API takes', () => {
    expect(submittedGitContext(dir, 'push', noWarning)).toBeUndefined();
    const sh = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=A', '-c', 'user.email=a@e', ...args], { cwd: dir });
    sh('init', '-q', '-b', 'main');
    sh('commit', '-q', '--allow-empty', '-m', 'x'.repeat(70_000));
    const context = submittedGitContext(dir, 'push', noWarning);
    expect(context?.commit?.message).toHaveLength(64 * 1024);
    expect(context?.ref).toBe('refs/heads/main');
    expect(submittedGitContext(dir, 'workflow_dispatch', noWarning)?.commit).toBeUndefined();
  });

  it('reads a commit whose dates git takes but ISO 8601 cannot write: no date, no exception', () => {
    const weird = mkdtempSync(join(tmpdir(), 'valkyrie-submit-git-date-'));
    try {
      const env = {
        ...process.env,
        GIT_AUTHOR_DATE: '@99999999999999 +0000',
        GIT_COMMITTER_DATE: '@253402300800 +0000',
      };
      const sh = (...args: string[]) =>
        execFileSync('git', ['-c', 'user.name=A', '-c', 'user.email=a@e', ...args], { cwd: weird, env });
      sh('init', '-q', '-b', 'main');
      sh('commit', '-q', '--allow-empty', '-m', 'hi');
      const context = submittedGitContext(weird, 'push', noWarning);
      expect(context?.commit).toMatchObject({ message: 'hi', author: { name: 'A', email: 'a@e' } });
      expect(context?.commit?.author.date).toBeUndefined();
      expect(context?.commit?.committer.date).toBeUndefined();
    } finally {
      rmSync(weird, { recursive: true, force: true });
    }
  });
});

describe('withoutRefusedFields', () => {
  it('leaves out each field the API would refuse, with one warning line naming it, and keeps the rest', () => {
    const warnings: string[] = [];
    const person = { name: 'A', email: 'a@e', date: '2026-11-30T15:04:05+01:00' };
    const checked = withoutRefusedFields(
      {
        sha: 'a'.repeat(40),
        ref: 'refs/heads/main',
        repository: 'org/re\tpo',
        serverUrl: 'https://gh_work',
        commit: { message: 'm', author: person, committer: { ...person, email: 'a\u0007@e' } },
      },
      (line) => warnings.push(line),
    );
    expect(checked).toEqual({ sha: 'a'.repeat(40), ref: 'refs/heads/main', serverUrl: 'https://gh_work' });
    expect(warnings).toEqual([
      'valkyrie: warning: git.repository is left out of the run: the server would refuse git.repository (no control characters), read "org/re\\tpo"',
      'valkyrie: warning: git.commit is left out of the run: the server would refuse git.commit.committer.email (no control characters), read "a\\u0007@e"',
    ]);
  });

  it('takes any http(s) origin new URL takes: an ssh alias with _, an IPv6 host', () => {
    for (const serverUrl of ['https://gh_work', 'https://[::1]', 'http://[::1]:8080']) {
      expect(withoutRefusedFields({ serverUrl }, noWarning)).toEqual({ serverUrl });
    }
  });
});
