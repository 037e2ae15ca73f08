/** A commit's author or committer, as the commit object records them. */
export interface GitPerson {
  readonly name: string;
  readonly email: string;
  /**
   * ISO 8601 with the person's own UTC offset, as GitHub writes it: `2026-11-30T14:05:09+01:00`.
   * Absent when the commit's date has no such form (git takes a year past 9999 or an offset of +9959).
   */
  readonly date?: string;
}

/** The facts of the checked-out commit a push event's payload is made of. */
export interface HeadCommit {
  /** The whole message, without its trailing newlines. */
  readonly message: string;
  /** The first parent; absent for a root commit. */
  readonly parent?: string;
  readonly tree?: string;
  readonly author: GitPerson;
  readonly committer: GitPerson;
}

/**
 * The git context of a run: the workspace's HEAD and `origin` remote, read by `valkyrie run` and by
 * `valkyrie submit` on the machine that has the checkout (the server has none). Every field is absent
 * when it is unknown: not a git repository, a detached HEAD (no `ref`), no origin, an unreadable commit.
 */
export interface GitContext {
  readonly sha?: string;
  readonly ref?: string;
  /** `owner/repo`, from the `origin` remote's URL. */
  readonly repository?: string;
  /** The origin's host as an https URL (`https://github.com`). */
  readonly serverUrl?: string;
  /** HEAD's commit; read only for a run that starts as a push. */
  readonly commit?: HeadCommit;
}

/** JSON of strings and objects only, so that it is an expression value as it is. */
/** The longest commit message the API takes (UTF-16 code units); `valkyrie submit` cuts a longer one to it. */
export const maxCommitMessageLength = 64 * 1024;

export type PushEventPayload = { readonly [key: string]: string | PushEventPayload };

const noCommit = '0'.repeat(40);

/**
 * `github.event` of a push run: the part of GitHub's push payload a checkout can tell faithfully —
 * `ref`, `after`, `before` (HEAD's first parent, or zeros for a root commit), `head_commit` and, with a
 * known origin, `repository`. Nothing is made up: no `pusher`, `commits`, `compare` or ids.
 */
export function pushEventPayload(git: GitContext): PushEventPayload {
  const payload: Record<string, string | PushEventPayload> = {};
  if (git.ref !== undefined) payload.ref = git.ref;
  if (git.sha !== undefined) payload.after = git.sha;
  const commit = git.commit;
  const htmlUrl =
    git.repository !== undefined && git.serverUrl !== undefined
      ? `${git.serverUrl}/${git.repository}`
      : undefined;
  if (git.sha !== undefined && commit !== undefined) {
    payload.before = commit.parent ?? noCommit;
    payload.head_commit = {
      id: git.sha,
      ...(commit.tree === undefined ? {} : { tree_id: commit.tree }),
      message: commit.message,
      ...(commit.committer.date === undefined ? {} : { timestamp: commit.committer.date }),
      ...(htmlUrl === undefined ? {} : { url: `${htmlUrl}/commit/${git.sha}` }),
      author: { name: commit.author.name, email: commit.author.email },
      committer: { name: commit.committer.name, email: commit.committer.email },
    };
  }
  if (git.repository !== undefined) {
    // `group/sub/app` (a nested group): owned by `group`, as github.repository_owner says, named `app`.
    const owner = git.repository.slice(0, git.repository.indexOf('/'));
    payload.repository = {
      name: git.repository.slice(git.repository.lastIndexOf('/') + 1),
      full_name: git.repository,
      owner: { login: owner, name: owner },
      ...(htmlUrl === undefined ? {} : { html_url: htmlUrl }),
    };
  }
  return payload;
}

/**
 * HEAD's facts from a commit object's text (`tree …`, `parent …`, `author NAME <EMAIL> SECONDS ±HHMM`,
 * `committer …`, other headers, a blank line, the message). undefined when it lacks an author or committer.
 */
export function parseCommitObject(text: string): HeadCommit | undefined {
  const blank = text.indexOf('\n\n');
  const headers = (blank === -1 ? text : text.slice(0, blank)).split('\n');
  const message = blank === -1 ? '' : text.slice(blank + 2).replace(/\n+$/, '');
  let tree: string | undefined;
  let parent: string | undefined;
  let author: GitPerson | undefined;
  let committer: GitPerson | undefined;
  for (const line of headers) {
    // A continuation line (` …`) belongs to a multi-line header such as gpgsig.
    const space = line.indexOf(' ');
    if (space <= 0) continue;
    const key = line.slice(0, space);
    const value = line.slice(space + 1);
    if (key === 'tree') tree ??= value;
    else if (key === 'parent') parent ??= value;
    else if (key === 'author') author ??= parsePerson(value);
    else if (key === 'committer') committer ??= parsePerson(value);
  }
  if (author === undefined || committer === undefined) return undefined;
  return {
    message,
    ...(parent === undefined ? {} : { parent }),
    ...(tree === undefined ? {} : { tree }),
    author,
    committer,
  };
}

function parsePerson(value: string): GitPerson | undefined {
  const match = /^(.*?) ?<([^>]*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(value);
  if (match === null) return undefined;
  const [, name = '', email = '', seconds = '0', sign = '+', hours = '00', minutes = '00'] = match;
  const date = isoWithOffset(Number(seconds), sign, hours, minutes);
  return { name, email, ...(date === undefined ? {} : { date }) };
}

/** The first instant of the year 10000: ISO 8601's four-digit years end before it. */
const yearTenThousand = Date.UTC(10000, 0, 1);

/**
 * `seconds` since the epoch as the wall-clock time at the offset, with the offset: `…T14:05:09+01:00`.
 * undefined for what git records but ISO 8601 cannot say: an offset past 23:59, minutes past 59, a
 * wall-clock time from the year 10000 on (`new Date` throws past its own range, and `toISOString`
 * writes `+010000-…` before it).
 */
function isoWithOffset(seconds: number, sign: string, hours: string, minutes: string): string | undefined {
  if (Number(hours) > 23 || Number(minutes) > 59) return undefined;
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes));
  const localMs = (seconds + offsetMinutes * 60) * 1000;
  if (!Number.isFinite(localMs) || localMs >= yearTenThousand) return undefined;
  const local = new Date(localMs).toISOString().slice(0, 19);
  return `${local}${offsetMinutes === 0 ? 'Z' : `${sign}${hours}:${minutes}`}`;
}
