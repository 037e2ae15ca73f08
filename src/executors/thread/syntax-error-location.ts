import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Where a task module's syntax error is, as `path:line:col`, or undefined when that cannot be told.
 * Node 20 keeps the place of a SyntaxError thrown by `import()` out of its message and stack (it
 * prints it only for an uncaught one), so a failed load said "Unexpected number" and no line. The
 * module is parsed again by `node --check`, which prints the place; only on this failure path, so
 * it costs nothing otherwise. A syntax error in a module the task module imports is not found this
 * way (the check parses one file): the message then stays as Node gave it.
 */
export function syntaxErrorLocation(moduleUrl: string): Promise<string | undefined> {
  // Only what Node parses itself: a .ts file behind a loader would be checked without it.
  if (!/^file:.*\.[cm]?js$/.test(moduleUrl)) return Promise.resolve(undefined);
  const path = fileURLToPath(moduleUrl);
  return new Promise((resolve) => {
    execFile(process.execPath, ['--check', path], { timeout: 10_000 }, (error, _stdout, stderr) =>
      resolve(error === null ? undefined : locationIn(stderr, path)),
    );
  });
}

/** Node's report: `path:line`, the source line, then a caret under the column. */
function locationIn(report: string, path: string): string | undefined {
  const lines = report.split('\n');
  const at = lines.findIndex((line) => line.startsWith(`${path}:`));
  const line = at < 0 ? undefined : /:(\d+)$/.exec(lines[at] ?? '')?.[1];
  if (line === undefined) return undefined;
  const caret = lines[at + 2]?.indexOf('^') ?? -1;
  return caret < 0 ? `${path}:${line}` : `${path}:${line}:${caret + 1}`;
}
