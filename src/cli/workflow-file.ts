import { join } from 'node:path';
import { listWorkflowFiles } from '../workflow/workflow-files.js';
import { UsageError } from './exit-codes.js';

/**
 * The workflow `valkyrie run` (or `command`, whose usage the messages name) uses without a FILE: the
 * single file in `.valkyrie/workflows/`, else the single file in `.github/workflows/`.
 */
export function findDefaultWorkflow(cwd: string, command: 'run' | 'submit' = 'run'): string {
  for (const dir of ['.valkyrie/workflows', '.github/workflows']) {
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
