import { describe, expect, it } from 'vitest';
import { type GitContext, parseCommitObject, pushEventPayload } from '../../src/core/git-context.js';

const sha = 'a'.repeat(40);
const parent = 'b'.repeat(40);
const tree = 'c'.repeat(40);
const commitText = [
  `tree ${tree}`,
  `parent ${parent}`,
  `parent ${'d'.repeat(40)}`,
  'author Ada Lovelace <ada@example.com> 1700000000 +0130',
  'committer Grace Hopper <grace@example.com> 1700000100 -0700',
  'gpgsig -----BEGIN PGP SIGNATURE-----',
  ' committer Mallory <m@example.com> 1 +0000',
  ' -----END PGP SIGNATURE-----',
  '',
  'Ship it: the first line',
  '',
  'The body, after a blank line.',
  '',
  '',
].join('\n');

describe('parseCommitObject', () => {
  it('gives no date, never an exception, for a date git records but ISO 8601 cannot write', () => {
    const at = (author: string, committer: string) =>
      parseCommitObject(`tree ${tree}\nauthor A <a@e> ${author}\ncommitter C <c@e> ${committer}\n\nm\n`);
    // Past Date's range (it threw RangeError), then the year 10000 (`+010000-01-01…`), then offsets.
    expect(at('99999999999999 +0000', '253402300800 +0000')).toEqual({
      message: 'm',
      tree,
      author: { name: 'A', email: 'a@e' },
      committer: { name: 'C', email: 'c@e' },
    });
    expect(at('253402300799 +0000', '253402300799 -2359')?.author.date).toBe('9999-12-31T23:59:59Z');
    expect(at('253402300799 +0001', '0 +9959')).toMatchObject({
      author: { name: 'A', email: 'a@e' },
      committer: { name: 'C', email: 'c@e' },
    });
    expect(at('0 +0060', '0 -2359')).toEqual({
      message: 'm',
      tree,
      author: { name: 'A', email: 'a@e' },
      committer: { name: 'C', email: 'c@e', date: '1969-12-31T00:01:00-23:59' },
    });
    expect(at(`1${'0'.repeat(400)} +0000`, '0 +0000')?.author).toEqual({ name: 'A', email: 'a@e' });
  });

  it('reads the first parent, the tree, both people with their own offsets, and the whole message', () => {
    expect(parseCommitObject(commitText)).toEqual({
      message: 'Ship it: the first line\n\nThe body, after a blank line.',
      parent,
      tree,
      author: { name: 'Ada Lovelace', email: 'ada@example.com', date: '2023-11-14T23:43:20+01:30' },
      committer: { name: 'Grace Hopper', email: 'grace@example.com', date: '2023-11-14T15:15:00-07:00' },
    });
  });

  it('writes UTC as Z, has no parent for a root commit, and gives nothing without an author', () => {
    const root = `tree ${tree}\nauthor A <a@e> 0 +0000\ncommitter C <c@e> 60 +0000\n\nfirst\n`;
    expect(parseCommitObject(root)).toEqual({
      message: 'first',
      tree,
      author: { name: 'A', email: 'a@e', date: '1970-01-01T00:00:00Z' },
      committer: { name: 'C', email: 'c@e', date: '1970-01-01T00:01:00Z' },
    });
    expect(parseCommitObject(`tree ${tree}\ncommitter C <c@e> 60 +0000\n\nx\n`)).toBeUndefined();
  });
});

describe('pushEventPayload', () => {
  const commit = parseCommitObject(commitText);
  const full: GitContext = {
    sha,
    ref: 'refs/heads/main',
    repository: 'acme/widgets',
    serverUrl: 'https://github.com',
    ...(commit === undefined ? {} : { commit }),
  };

  it("is GitHub's push payload as far as the checkout tells it: ref, after, before, head_commit, repository", () => {
    expect(pushEventPayload(full)).toEqual({
      ref: 'refs/heads/main',
      after: sha,
      before: parent,
      head_commit: {
        id: sha,
        tree_id: tree,
        message: 'Ship it: the first line\n\nThe body, after a blank line.',
        timestamp: '2023-11-14T15:15:00-07:00',
        url: `https://github.com/acme/widgets/commit/${sha}`,
        author: { name: 'Ada Lovelace', email: 'ada@example.com' },
        committer: { name: 'Grace Hopper', email: 'grace@example.com' },
      },
      repository: {
        name: 'widgets',
        full_name: 'acme/widgets',
        owner: { login: 'acme', name: 'acme' },
        html_url: 'https://github.com/acme/widgets',
      },
    });
  });

  it('has 40 zeros as before for a root commit, and leaves out what is unknown rather than invent it', () => {
    const root = commit === undefined ? undefined : { ...commit, parent: undefined };
    expect(pushEventPayload({ sha, ...(root === undefined ? {} : { commit: root }) })).toMatchObject({
      after: sha,
      before: '0'.repeat(40),
    });
    // No origin: no repository, no URLs; a detached HEAD: no ref; an unread commit: no before.
    const bare = pushEventPayload({ sha, ...(commit === undefined ? {} : { commit }) });
    expect(Object.keys(bare).sort()).toEqual(['after', 'before', 'head_commit']);
    expect(Object.keys(bare.head_commit ?? {})).not.toContain('url');
    expect(pushEventPayload({ sha, ref: 'refs/tags/v1' })).toEqual({ ref: 'refs/tags/v1', after: sha });
    expect(pushEventPayload({})).toEqual({});
    const undated = {
      message: 'm',
      author: { name: 'A', email: 'a@e' },
      committer: { name: 'C', email: 'c@e' },
    };
    expect(Object.keys(pushEventPayload({ sha, commit: undated }).head_commit ?? {})).not.toContain(
      'timestamp',
    );
  });
});
