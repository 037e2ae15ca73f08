import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { isGitHubEvent } from '../workflow/github-events.js';
import { listWorkflowFiles } from '../workflow/workflow-files.js';
import { UsageError } from './exit-codes.js';

const workflowDirs = ['.valkyrie/workflows', '.github/workflows'] as const;

/**
 * The workflow file a command was given, relative to `cwd`: FILE as the shell gives it; a bare file
 * name that is not in the current folder, the file of that name in `.valkyrie/workflows/` or
 * `.github/workflows/` of `root` (as `gh workflow run ci.yml` finds it); without FILE, the one
 * findDefaultWorkflow finds in `root`. A name in both folders is refused, naming both; one in neither
 * (nor here) too, naming where it was looked for.
 */
export function workflowFileOf(
  file: string | undefined,
  command: 'run' | 'submit' | 'validate',
  cwd: string,
  root = cwd,
): string {
  if (file === undefined) return relative(cwd, resolve(root, findDefaultWorkflow(root, command)));
  if (/[\\/]/.test(file) || existsSync(resolve(cwd, file))) return file;
  const found = workflowDirs.map((dir) => join(root, dir, file)).filter(isFile);
  const [only, other] = found;
  // Said here, not by the read: "no such file" alone does not tell that the workflow folders were
  // looked in too, so `ci.yml` for a `ci.yaml` there reads as a file the command never saw.
  if (only === undefined) {
    const folders = workflowDirs.map((dir) => `${relative(cwd, join(root, dir)) || '.'}/`).join(' or ');
    throw new UsageError(
      `cannot read workflow ${file}: no such file here, nor in ${folders}${eventHint(file, command)}`,
    );
  }
  if (other !== undefined)
    throw new UsageError(
      `${file} is in both .valkyrie/workflows/ and .github/workflows/; name one: valkyrie ${command} ${relative(cwd, only)}`,
    );
  return relative(cwd, only);
}

/**
 * act takes the event as its first argument (`act push`, `act workflow_dispatch`), where Valkyrie takes
 * the workflow file: said when the name that is no file is an event's, for the commands with --event.
 */
function eventHint(name: string, command: 'run' | 'submit' | 'validate'): string {
  if (command === 'validate' || !isGitHubEvent(name)) return '';
  return `; to start the run as the ${name} event, as \`act ${name}\` does: valkyrie ${command} [FILE] --event ${name}`;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The workflow `valkyrie run` (or `command`, whose usage the messages name) uses without a FILE: the
 * single file in `.valkyrie/workflows/`, else the single file in `.github/workflows/`.
 */
export function findDefaultWorkflow(cwd: string, command: 'run' | 'submit' | 'validate' = 'run'): string {
  for (const dir of workflowDirs) {
    const files = listWorkflowFiles(join(cwd, dir));
    if (files.length === 1) return join(dir, files[0] ?? '');
    if (files.length > 1) {
      throw new UsageError(
        `${dir} has ${files.length} workflows (${files.join(', ')}); name one: valkyrie ${command} FILE`,
      );
    }
  }
  throw new UsageError(
    `no workflow given and none found in .valkyrie/workflows/ or .github/workflows/; try: valkyrie ${command} FILE`,
  );
}
