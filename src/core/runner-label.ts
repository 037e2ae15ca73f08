/**
 * What a runner label may hold: no whitespace (leading, trailing or inside), no comma and no control
 * character. `valkyrie runner --labels` splits at commas and refuses anything else, without trimming,
 * so a `runs-on` label with one of these is one no runner can ever have: its job would wait for ever.
 */
const unfitCharacter = /[\s,\p{Cc}]/u;

/*
 * What a runner may register with, here only: `valkyrie runner` refuses to start past them (its --name,
 * --labels, --capacity), and the server refuses them in registration's body and in the protocol's
 * `register` (protocol/schemas.ts), the one a runner of any make sends on every session: the server
 * keeps a runner's labels in memory and walks them for every job it places.
 */

/** How many labels a runner may have, those it is given (self-hosted, its OS, …) included. */
export const maxRunnerLabels = 200;

/** How long one label may be. */
export const maxRunnerLabelLength = 200;

/** How many jobs a runner may run at once. */
export const maxRunnerCapacity = 1024;

/** How long a runner's name may be: it is shown in the runner list and every job's "running on" line. */
export const maxRunnerNameLength = 100;

/**
 * What makes `name` one no runner can have, undefined when nothing does: blank (nothing to tell it by in
 * the runner list), a control character (it reaches the runner list, job logs and RUNNER_NAME), or
 * longer than maxRunnerNameLength.
 */
export function runnerNameFault(name: string): 'blank' | 'control character' | 'too long' | undefined {
  if (name.trim() === '') return 'blank';
  if (/\p{Cc}/u.test(name)) return 'control character';
  if (name.length > maxRunnerNameLength) return 'too long';
  return undefined;
}

/** Whether `label` is one a runner can have (see above); an empty label is the caller's to judge. */
export function isRunnerLabelShape(label: string): boolean {
  return !unfitCharacter.test(label);
}

/**
 * The labels `label` was most likely meant as (`"self-hosted, linux"` → `self-hosted`, `linux`;
 * `" gpu "` → `gpu`), for a hint: split at commas and whitespace, control characters dropped.
 */
export function intendedLabels(label: string): string[] {
  return label
    .replace(/\p{Cc}/gu, ' ')
    .split(/[\s,]+/)
    .filter((part) => part !== '');
}
