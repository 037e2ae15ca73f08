/**
 * Why `name` cannot name a secret, or undefined when it can. GitHub's rules for secret names: only
 * letters, digits and `_`, not starting with a digit, not starting with `GITHUB_` (its own names). One
 * exception: GITHUB_TOKEN, which GitHub gives every run and Valkyrie does not, so a workflow that uses
 * `secrets.GITHUB_TOKEN` gets it only when it is given.
 */
export function secretNameProblem(name: string): string | undefined {
  if (/^GITHUB_TOKEN$/i.test(name)) return undefined;
  return nameProblem('secret', name);
}

/**
 * Why `name` cannot name a variable (`vars.NAME`), or undefined when it can: GitHub's rules for
 * variable names, a secret's without the GITHUB_TOKEN exception.
 */
export function variableNameProblem(name: string): string | undefined {
  return nameProblem('variable', name);
}

function nameProblem(kind: 'secret' | 'variable', name: string): string | undefined {
  if (name === '') return `a ${kind} name is not empty`;
  if (!/^[A-Za-z0-9_]+$/.test(name))
    return `a ${kind} name holds only letters (A-Z, a-z), digits and _, as on GitHub`;
  if (/^[0-9]/.test(name)) return `a ${kind} name does not start with a digit, as on GitHub`;
  if (/^GITHUB_/i.test(name))
    return kind === 'secret'
      ? "a secret name does not start with GITHUB_, GitHub's own prefix (GITHUB_TOKEN excepted)"
      : "a variable name does not start with GITHUB_, GitHub's own prefix";
  return undefined;
}

/** Why `value` cannot be a secret's (or a var's) value, or undefined when it can. */
export function processValueProblem(value: string): string | undefined {
  // Refused before anything runs: a process environment cannot hold it, and the failed spawn would
  // print the value.
  return value.includes('\0') ? 'no NUL byte: a process environment cannot hold one' : undefined;
}
