import * as z from 'zod';
import { maxCommitMessageLength } from '../core/git-context.js';

/*
 * The run request's `git` field: checked by the API (server/schemas.ts) and, before it is sent, by
 * `valkyrie submit`, which leaves out a field the API would refuse rather than fail the submit.
 */

/** No control characters: a newline in GITHUB_REF, say, would be a second line of a step's env. */
const printable = (text: string) => !/\p{Cc}/u.test(text);
const commitShaSchema = z
  .string()
  .regex(/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/, 'a commit sha: 40 (or 64) lowercase hex digits');

const gitPersonSchema = z.strictObject({
  name: z.string().max(500).refine(printable, 'no control characters'),
  email: z.string().max(500).refine(printable, 'no control characters'),
  date: z.iso.datetime({ offset: true }).optional().meta({
    description: 'ISO 8601 with the UTC offset; absent when git recorded one ISO 8601 cannot write',
  }),
});

export const runGitSchema = z
  .strictObject({
    sha: commitShaSchema.optional().meta({ description: 'github.sha, GITHUB_SHA: the commit checked out' }),
    ref: z
      .string()
      .max(1000)
      .regex(/^refs\/./, 'a full ref name such as refs/heads/main')
      .refine(printable, 'no control characters')
      .optional()
      .meta({ description: 'github.ref, GITHUB_REF; absent for a detached HEAD' }),
    repository: z
      .string()
      .max(500)
      .regex(/^[^/]+\/./, 'owner/name')
      .refine(printable, 'no control characters')
      .optional()
      .meta({ description: 'github.repository, GITHUB_REPOSITORY: owner/name of the origin remote' }),
    serverUrl: z
      // Any http(s) URL that `new URL` takes: an ssh alias (`gh_work`) or an IPv6 host is a real origin.
      .url({ protocol: /^https?$/ })
      .max(500)
      .optional()
      .meta({ description: "github.server_url: the origin's host, e.g. https://github.com" }),
    commit: z
      .strictObject({
        // No checkout has one: git refuses a NUL in a commit message.
        message: z
          .string()
          .max(maxCommitMessageLength)
          .refine((text) => !text.includes('\u0000'), 'no NUL character'),
        parent: commitShaSchema
          .optional()
          .meta({ description: 'the first parent; absent for a root commit' }),
        tree: commitShaSchema.optional(),
        author: gitPersonSchema,
        committer: gitPersonSchema,
      })
      .optional()
      .meta({ description: "HEAD's commit: a push run's github.event.head_commit and before" }),
  })
  .meta({
    description:
      "the git context of the submitter's checkout, which the server does not have; what a local valkyrie run reads from .git",
  });
