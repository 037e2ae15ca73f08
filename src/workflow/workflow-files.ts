import { readdirSync } from 'node:fs';
import { join, posix } from 'node:path';

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

const workflowDirectories = ['.github/workflows/', '.valkyrie/workflows/'];

/**
 * GitHub's name for a workflow without `name:` — `github.workflow`, `GITHUB_WORKFLOW` and the run's
 * name —: the file's path in the repository, `.github/workflows/ci.yml`. The workspace stands for the
 * repository: a path through `.github/workflows/` (or `.valkyrie/workflows/`) is taken from there,
 * wherever it starts, so that `valkyrie run`, `submit` and the server name a file alike; another
 * relative path is taken as it is (from the workspace `run` starts in); an absolute path, or one
 * leaving the directory, is the file's own name.
 */
export function workflowPathInRepository(path: string): string {
  const normal = posix.normalize(path);
  for (const directory of workflowDirectories) {
    const at = normal.lastIndexOf(`/${directory}`);
    if (at >= 0) return normal.slice(at + 1);
    if (normal.startsWith(directory)) return normal;
  }
  if (posix.isAbsolute(normal) || normal === '..' || normal.startsWith('../')) return posix.basename(normal);
  return normal;
}
