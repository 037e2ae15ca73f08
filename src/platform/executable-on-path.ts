import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The first executable file `name` in the directories of `searchPath`, as a shell would find it,
 * that `accept` takes (every one by default); undefined when there is none.
 */
export function findOnPath(
  name: string,
  searchPath: string | undefined,
  accept: (path: string) => boolean = () => true,
): string | undefined {
  for (const directory of (searchPath ?? '').split(delimiter)) {
    if (directory === '') continue;
    const path = join(directory, name);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile() && accept(path)) return path;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}
