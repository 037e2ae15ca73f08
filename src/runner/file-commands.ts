import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { createEmptyPrivateFile } from './private-file.js';
import type { StepFiles } from './step-environment.js';

/**
 * Reads a `$GITHUB_OUTPUT` / `$GITHUB_ENV` file: `name=value` lines and multi-line values written as
 * `name<<DELIMITER` … `DELIMITER`. Throws with the line number on a malformed line, as GitHub fails
 * the step in that case.
 */
export function parseKeyValueFile(content: string, fileLabel: string): Map<string, string> {
  const values = new Map<string, string>();
  const lines = content.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.trim() === '') continue;
    const heredoc = line.indexOf('<<');
    const eq = line.indexOf('=');
    if (heredoc > 0 && (eq === -1 || heredoc < eq)) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      // As actions/runner: an empty delimiter (`echo "v<<$UNSET"`) would end at the first empty line.
      if (delimiter === '')
        throw new Error(
          `${fileLabel}: line ${i + 1} has an empty delimiter after "<<": ${JSON.stringify(line)}`,
        );
      const body: string[] = [];
      let closed = false;
      for (i++; i < lines.length; i++) {
        if (lines[i] === delimiter) {
          closed = true;
          break;
        }
        body.push(lines[i] ?? '');
      }
      if (!closed) throw new Error(`${fileLabel}: matching delimiter "${delimiter}" not found for "${name}"`);
      values.set(name, body.join('\n'));
    } else if (eq > 0) {
      values.set(line.slice(0, eq), line.slice(eq + 1));
    } else {
      throw new Error(
        `${fileLabel}: line ${i + 1} is not name=value or name<<DELIMITER: ${JSON.stringify(line)}`,
      );
    }
  }
  return values;
}

/** What actions/runner refuses from $GITHUB_ENV (its SetEnvFileCommand block list), in any case. */
const githubEnvBlockList = ['NODE_OPTIONS'];

/**
 * The variables a step's `$GITHUB_ENV` sets. A name on the block list is left out with an error
 * line, as actions/runner does (an error annotation; the step is not failed); a malformed file
 * throws, as parseKeyValueFile does.
 */
export function githubEnvValues(content: string, refused: (line: string) => void): Map<string, string> {
  const values = parseKeyValueFile(content, 'GITHUB_ENV');
  for (const name of values.keys()) {
    const blocked = githubEnvBlockList.find((entry) => entry === name.toUpperCase());
    if (blocked === undefined) continue;
    values.delete(name);
    refused(`error: Can't store ${blocked} output parameter using '$GITHUB_ENV' command.`);
  }
  return values;
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

/** Throws (failing the step, as GitHub does) on a malformed $GITHUB_OUTPUT or $GITHUB_ENV line. */
export function applyCommandFiles(texts: CommandFileTexts, targets: CommandFileTargets): void {
  for (const [key, value] of parseKeyValueFile(texts.output, 'GITHUB_OUTPUT')) targets.output(key, value);
  for (const [key, value] of githubEnvValues(texts.env, targets.log)) targets.env[key] = value;
  for (const directory of parsePathFile(texts.path)) addToPath(targets.path, directory);
  logSummary(texts.summary, targets.log);
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
