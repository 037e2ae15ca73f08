/**
 * Hooks for helper modules, which a test file imports but whose top level runs once per worker when
 * files share their worker's modules (`npm test` runs most files so): a vitest `afterEach` there would
 * be registered on the first file that imported the helper only. test/per-file-hooks.ts, a setup file,
 * runs these after every test and every file instead. Like vitest's own, the last registered runs first.
 */
type Hook = () => unknown;

const eachTest: Hook[] = [];
const eachFile: Hook[] = [];

/** Runs `hook` after every test of every file that runs once the helper is imported. */
export function helperAfterEach(hook: Hook): void {
  eachTest.push(hook);
}

/** Runs `hook` after every test file that runs once the helper is imported. */
export function helperAfterAll(hook: Hook): void {
  eachFile.push(hook);
}

export async function runAfterEachTest(): Promise<void> {
  for (const hook of [...eachTest].reverse()) await hook();
}

export async function runAfterEachFile(): Promise<void> {
  for (const hook of [...eachFile].reverse()) await hook();
}
