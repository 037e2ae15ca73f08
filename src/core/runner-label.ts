/**
 * What a runner label may hold: no whitespace (leading, trailing or inside), no comma and no control
 * character. `valkyrie runner --labels` splits at commas and refuses anything else, without trimming,
 * so a `runs-on` label with one of these is one no runner can ever have: its job would wait for ever.
 */
const unfitCharacter = /[\s,\p{Cc}]/u;

/** How many labels a runner may have, those it is given (self-hosted, its OS, …) included. */
export const maxRunnerLabels = 200;

/** How many jobs a runner may run at once (`valkyrie runner --capacity`, and registration's `capacity`). */
export const maxRunnerCapacity = 1024;

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
