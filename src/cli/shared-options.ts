import { type Command, Option } from 'commander';
import { isRunnerLabelShape } from '../core/runner-label.js';
import { UsageError } from './exit-codes.js';
import { collectMatrix } from './matrix-option.js';

/**
 * An option taking a number, with a default: parsed from its text like a value given, and shown in
 * --help as `(default: 20)`, where commander would show the string's JSON, `(default: "20")`.
 */
export function numberOption(flags: string, description: string, value: number): Option {
  return new Option(flags, description).default(String(value), String(value));
}

/** Parses an option given as `a,b`, repeatable: every value of every occurrence, in order. */
export const collectList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value.split(',').filter(Boolean),
];

/**
 * `--label` of `run` and `validate`: the machine's extra labels, comma-separated, each one a runner
 * label can be (core/runner-label.ts), as `valkyrie runner --labels` checks them: `--label "gpu, big"`
 * gave the label " big", which no `runs-on` could match, without a word.
 */
export function collectLabels(value: string, previous: string[] = []): string[] {
  const labels = collectList(value);
  for (const label of labels)
    if (!isRunnerLabelShape(label))
      throw new UsageError(
        `--label: a runner label has no spaces, commas or control characters (as valkyrie runner --labels refuses them), received ${JSON.stringify(label)}`,
      );
  return [...previous, ...labels];
}

/** `--state-dir` of the commands that use local state. */
export const stateDir = () =>
  new Option(
    '--state-dir <dir>',
    'local state: the default database (default: .valkyrie, or $VALKYRIE_STATE_DIR)',
  );

/** `--db` of the commands that open a store. */
export const db = () =>
  new Option(
    '--db <url-or-file>',
    'the store: postgres://USER@HOST/DB[?schema=NAME] (plus node-postgres parameters such as sslmode; others are refused) or a SQLite file (default: $VALKYRIE_DB, else STATE_DIR/valkyrie.db)',
  );

/** `--job` of `run` and `submit` (cli/job-option.ts). */
export const jobSelection = () =>
  new Option(
    '--job <ids>',
    'run only these jobs (their ids under jobs:) and the jobs they need; comma-separated or repeated',
  ).argParser(collectList);

/** `--matrix` of `run`, `submit` and `validate` (cli/matrix-option.ts), act's `--matrix`. */
export const matrixSelection = (verb = 'run') =>
  new Option(
    '--matrix <key=value>',
    `${verb} only the matrix legs whose KEY is VALUE (act's KEY:VALUE too), compared as text (a list or mapping as its JSON); repeat for more values or keys (a leg is kept when each KEY it has is one of that KEY's values); jobs whose matrix lacks KEY are untouched`,
  ).argParser(collectMatrix);

/**
 * Where a client command finds the server: --server/VALKYRIE_SERVER, --token/VALKYRIE_TOKEN. The
 * variables are read where the flags are used (ApiClient.fromFlags, serverGiven), not filled in by
 * commander: only a flag typed on the command line may be refused beside --state-dir or --db.
 */
export const clientOptions = (command: Command) =>
  command
    .option('--server <url>', 'the Valkyrie server, e.g. http://127.0.0.1:7070 (default: $VALKYRIE_SERVER)')
    .option('--token <token>', 'an API token, see valkyrie token create (default: $VALKYRIE_TOKEN)');
