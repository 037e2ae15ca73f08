import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { messageOf } from '../core/error-message.js';
import { namedEntries } from './key-value-file.js';
import { createEmptyPrivateFile } from './private-file.js';
import type { StepFiles } from './step-environment.js';

/** What actions/runner refuses from $GITHUB_ENV (its SetEnvFileCommand block list), in any case. */
const githubEnvBlockList = ['NODE_OPTIONS'];

/**
 * Sets the variables a step's `$GITHUB_ENV` sets, in order. A name on the block list is left out
 * with an error line, as actions/runner does (an error annotation; the step is not failed); a
 * malformed line throws, the entries before it set, as namedEntries does.
 */
export function applyGithubEnv(
  content: string,
  env: Record<string, string>,
  refused: (line: string) => void,
): void {
  for (const { name, value } of namedEntries(content, 'GITHUB_ENV')) {
    const blocked = githubEnvBlockList.find((entry) => entry === name.toUpperCase());
    if (blocked === undefined) env[name] = value;
    else refused(`error: Can't store ${blocked} output parameter using '$GITHUB_ENV' command.`);
  }
}

/** The contents of one step's command files (empty when the step wrote none). */
export interface CommandFileTexts {
  readonly output: string;
  readonly env: string;
  readonly path: string;
  readonly summary: string;
  /** `$GITHUB_STATE`: a JavaScript action's saved state (action-parts.ts); other steps' is dropped. */
  readonly state: string;
}

/**
 * Creates a step's command files, empty, before it starts, as actions/runner does: @actions/core
 * (`setOutput`, `exportVariable`, `addPath`, `saveState`) refuses to append to one that is missing
 * ("Missing file at path"), its `summary.write()` to a summary it cannot access, and without
 * `$GITHUB_STATE` its `saveState` falls back to the deprecated `::save-state` (and its warning).
 */
export function createCommandFiles(files: StepFiles): void {
  for (const path of [files.output, files.env, files.path, files.summary, files.state])
    createEmptyPrivateFile(path);
}

/**
 * Reads and removes a step's command files, so the next step that uses the same paths starts
 * without them. They are tiny and usually empty (most steps write none), so they are read
 * synchronously, and an empty one not at all: a stat costs microseconds, an async read a
 * thread-pool round trip.
 */
export function takeCommandFiles(files: StepFiles): CommandFileTexts {
  return {
    output: takeOptional(files.output),
    env: takeOptional(files.env),
    path: takeOptional(files.path),
    summary: takeOptional(files.summary),
    state: takeOptional(files.state),
  };
}

/** Where a step's command files take effect. */
export interface CommandFileTargets {
  /** Each `$GITHUB_OUTPUT` value: the step's output. */
  readonly output: (name: string, value: string) => void;
  /** The job's `$GITHUB_ENV` values, set in place. */
  readonly env: Record<string, string>;
  /** The job's `$GITHUB_PATH` directories, added in place (addToPath). */
  readonly path: string[];
  /** A line for the step's log (a refused variable, a summary line). */
  readonly log: (line: string) => void;
}

/**
 * Throws (failing the step, as GitHub does) on a malformed $GITHUB_OUTPUT or $GITHUB_ENV line. As
 * actions/runner (FileCommandManager.ProcessFiles), each file is applied on its own: the entries
 * before a bad line, and the other files, still take effect; when both are bad the output's error
 * is logged and the env's thrown.
 */
export function applyCommandFiles(texts: CommandFileTexts, targets: CommandFileTargets): void {
  const errors: unknown[] = [];
  const apply = (effect: () => void) => {
    try {
      effect();
    } catch (error) {
      errors.push(error);
    }
  };
  apply(() => {
    for (const { name, value } of namedEntries(texts.output, 'GITHUB_OUTPUT')) targets.output(name, value);
  });
  apply(() => applyGithubEnv(texts.env, targets.env, targets.log));
  for (const directory of parsePathFile(texts.path)) addToPath(targets.path, directory);
  logSummary(texts.summary, targets.log);
  for (const error of errors.slice(0, -1)) targets.log(`error: ${messageOf(error)}`);
  if (errors.length > 0) throw errors.at(-1);
}

/** actions/runner's limit on one step's `$GITHUB_STEP_SUMMARY` (GitHub's documented 1 MiB). */
const summaryLimitBytes = 1024 * 1024;

/** A larger summary is dropped with actions/runner's error line; the step is not failed for it. */
function logSummary(summary: string, log: (line: string) => void): void {
  const size = Buffer.byteLength(summary);
  if (size > summaryLimitBytes) {
    log(
      `error: $GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of ${summaryLimitBytes / 1024}k, got ${Math.trunc(size / 1024)}k.`,
    );
    return;
  }
  for (const line of summary.split('\n').filter((l) => l.length > 0)) log(`summary: ${line}`);
}

/**
 * Adds a `$GITHUB_PATH` (or `::add-path::`) directory to the job's, kept in the order added: the last
 * comes first in PATH. One added again moves there rather than being listed twice, as actions/runner
 * does (PrependPath.RemoveAll, then Add).
 */
export function addToPath(path: string[], directory: string): void {
  for (let index = path.indexOf(directory); index >= 0; index = path.indexOf(directory))
    path.splice(index, 1);
  path.push(directory);
}

/** `$GITHUB_PATH`: one directory per line, later lines take precedence. */
export function parsePathFile(content: string): string[] {
  return content
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

function takeOptional(path: string): string {
  const size = statSync(path, { throwIfNoEntry: false })?.size;
  if (size === undefined) return '';
  const content = size === 0 ? '' : readFileSync(path, 'utf8');
  unlinkSync(path);
  return content;
}
