import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The workflow files (`*.yml`, `*.yaml`) directly in `dir`, sorted; none when it cannot be read. */
export function listWorkflowFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => !entry.isDirectory() && /\.ya?ml$/.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  } catch {
    return [];
  }
}

const shownCandidates = 10;

/**
 * What to say of a workflow path that is a directory: the workflows in it, or else in its
 * `.valkyrie/workflows/` or `.github/workflows/` (a repository's root given for its workflow).
 */
export function directoryCandidates(dir: string): string {
  for (const sub of ['', '.valkyrie/workflows', '.github/workflows']) {
    const files = listWorkflowFiles(join(dir, sub)).map((name) => join(dir, sub, name));
    if (files.length === 0) continue;
    if (files.length === 1) return `name the workflow in it: ${files[0]}`;
    const more = files.length > shownCandidates ? `, and ${files.length - shownCandidates} more` : '';
    return `name one of the workflows in it: ${files.slice(0, shownCandidates).join(', ')}${more}`;
  }
  return 'it holds no workflow (.yml or .yaml file), nor do its .valkyrie/workflows/ and .github/workflows/';
}
