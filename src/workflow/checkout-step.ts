import { closestMatch } from './diagnostics.js';

/**
 * `uses: actions/checkout@<ref>` is a built-in step: a job's workspace already is the checkout (the
 * working tree `valkyrie run` runs in, or the bundle `submit` sent, unpacked per job), so the step
 * succeeds at once and fetches nothing. Its inputs are checked when the file is read: those that only
 * tune how a clone is made are accepted and have no effect; those that ask for other content are
 * refused, since no checkout will make it so (and runners have no network to fetch it).
 */

const checkoutPattern = /^actions\/checkout(@.*)?$/i;

/** Whether `uses:` names actions/checkout, with or without its `@ref` (validation reports a missing one). */
export function isCheckoutUses(uses: string): boolean {
  return checkoutPattern.test(uses.trim());
}

/** The `@ref` GitHub requires, present and not empty. */
export function checkoutHasRef(uses: string): boolean {
  return /@.+$/.test(uses.trim());
}

/** Inputs of actions/checkout that change how a clone is made, not what the workspace holds. */
const inertInputs = [
  'token',
  'ssh-key',
  'ssh-known-hosts',
  'ssh-strict',
  'ssh-user',
  'persist-credentials',
  'clean',
  'filter',
  'sparse-checkout-cone-mode',
  'fetch-depth',
  'fetch-tags',
  'show-progress',
  'lfs',
  'submodules',
  'set-safe-directory',
  'github-server-url',
];

/** Values of content inputs that ask for what the workspace already is (GitHub's defaults). */
const defaultValues: Readonly<Record<string, readonly string[]>> = {
  repository: ['', '${{github.repository}}'],
  ref: ['', '${{github.ref}}', '${{github.sha}}'],
  path: ['', '.', './', '${{github.workspace}}'],
  'sparse-checkout': [''],
};

const contentProblems: Readonly<Record<string, string>> = {
  repository:
    'asks for another repository, but the job\u2019s workspace is the checkout of the workflow\u2019s own and Valkyrie fetches nothing (no network); remove it, or fetch that repository in a run: step',
  ref: 'asks for another ref, but the job\u2019s workspace is the checkout as it was run or submitted and Valkyrie fetches nothing (no network); remove it, or run the workflow from a working tree at that ref',
  path: 'asks for the checkout in a subdirectory, but the job\u2019s workspace is the checkout; remove it (the files are at $GITHUB_WORKSPACE)',
  'sparse-checkout':
    'asks for part of the repository, but the job\u2019s workspace is the checkout, all of it; remove it',
};

export interface CheckoutInputProblem {
  readonly input: string;
  readonly message: string;
}

/** What is wrong with a checkout step's `with:`; empty when every input can be honoured by doing nothing. */
export function checkoutInputProblems(
  inputs: Readonly<Record<string, string | number | boolean | null>>,
): CheckoutInputProblem[] {
  const problems: CheckoutInputProblem[] = [];
  for (const [input, value] of Object.entries(inputs)) {
    if (inertInputs.includes(input)) continue;
    const defaults = defaultValues[input];
    if (defaults !== undefined) {
      const text = String(value ?? '').replace(/\s+/g, '');
      // An expression (`${{ github.head_ref }}`) is judged by its value, when the step runs.
      if (defaults.includes(text) || text.includes('${{')) continue;
      problems.push({
        input,
        message: `actions/checkout: with.${input} ${JSON.stringify(String(value))} ${contentProblems[input] ?? ''}`,
      });
      continue;
    }
    const known = [...inertInputs, ...Object.keys(defaultValues)];
    const suggestion = closestMatch(input, known);
    problems.push({
      input,
      message: `actions/checkout has no input "${input}"${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`,
    });
  }
  return problems;
}

/** The one line a checkout step logs. */
export function checkoutLogLine(workspace: string): string {
  return `actions/checkout: the job\u2019s workspace (${workspace}) is used as the checkout; nothing was fetched`;
}

/** The content inputs a checkout step passes on to be judged when it runs: those that are expressions. */
export function checkoutExpressionInputs(
  inputs: Readonly<Record<string, string | number | boolean | null>> | undefined,
): Record<string, string> | undefined {
  const kept = Object.entries(inputs ?? {}).filter(
    ([input, value]) => defaultValues[input] !== undefined && String(value).includes('${{'),
  );
  return kept.length === 0
    ? undefined
    : Object.fromEntries(kept.map(([input, value]) => [input, String(value)]));
}

/** What the run's own checkout is, as the github context gives it. */
export interface OwnCheckout {
  readonly repository: string;
  readonly ref: string;
  readonly refName: string;
  readonly sha: string;
  readonly workspace: string;
}

/**
 * Why a checkout step cannot run with these evaluated inputs (an expression named other content),
 * or undefined: empty values, and values naming the run's own repository, ref or commit, are what
 * the workspace already is.
 */
export function checkoutValueProblem(
  values: Readonly<Record<string, string>>,
  own: OwnCheckout,
): string | undefined {
  const same: Readonly<Record<string, readonly string[]>> = {
    repository: ['', own.repository],
    ref: ['', own.ref, own.refName, own.sha],
    path: ['', '.', './', own.workspace],
    'sparse-checkout': [''],
  };
  for (const [input, value] of Object.entries(values)) {
    if ((same[input] ?? ['']).includes(value.trim())) continue;
    return `actions/checkout: with.${input} is ${JSON.stringify(value)}, which ${contentProblems[input] ?? 'is not supported'}`;
  }
  return undefined;
}
