import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { readFailureText } from '../core/read-failure.js';
import { type ActionManifest, parseActionManifest } from '../workflow/action-manifest.js';
import type { Diagnostic } from '../workflow/diagnostics.js';
import { localActionDirectory } from '../workflow/local-action.js';

/** A local action read from the job's workspace. */
export interface LoadedAction {
  readonly manifest: ActionManifest;
  /** The action's directory, absolute: `github.action_path` and GITHUB_ACTION_PATH. */
  readonly directory: string;
  /** The metadata file relative to the workspace (`.github/actions/hello/action.yml`), for messages. */
  readonly file: string;
  /** `file:line:col: warning: …` lines for the step's log. */
  readonly warnings: readonly string[];
}

/** Why a local action cannot run; its message names the file, `details` each problem at its line. */
export class ActionLoadError extends Error {
  /** `file:line:col: error: …`, one a problem, for the step's log before the message. */
  readonly details: readonly string[];

  constructor(
    message: string,
    /** The action.yml that has errors, when it was read. */
    readonly invalid?: {
      readonly file: string;
      readonly source: string;
      readonly diagnostics: readonly Diagnostic[];
    },
  ) {
    super(message);
    this.details = invalid?.diagnostics.map((diagnostic) => located(invalid.file, diagnostic)) ?? [];
  }
}

/**
 * Reads `uses: ./path`'s action.yml (or action.yaml) from the workspace. Throws ActionLoadError when
 * the directory or file is missing, leads out of the workspace (through a link), or does not describe
 * an action Valkyrie runs (its details list every problem as `file:line:col: error: …`).
 */
export function loadLocalAction(workspace: string, uses: string): LoadedAction {
  const relativeDirectory = localActionDirectory(uses);
  const directory = resolve(workspace, relativeDirectory);
  const candidates = ['action.yml', 'action.yaml'].map((name) => join(directory, name));
  const path = candidates.find((candidate) => existsSync(candidate));
  if (path === undefined) {
    const why = existsSync(directory) ? 'it has no action.yml or action.yaml' : 'no such directory';
    throw new ActionLoadError(
      `local action ${uses}: cannot read ${join(relativeDirectory, 'action.yml')} in the workspace (${directory}): ${why}`,
    );
  }
  const file = relative(workspace, path) || path;
  const inside = relative(realpathSync(workspace), realpathSync(path));
  if (inside.startsWith('..') || isAbsolute(inside)) {
    throw new ActionLoadError(
      `local action ${uses}: ${file} leads outside the workspace (to ${realpathSync(path)})`,
    );
  }
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ActionLoadError(`local action ${uses}: cannot read ${file}: ${readFailureText(error)}`);
  }
  const reading = parseActionManifest(source);
  if ('diagnostics' in reading) {
    const { diagnostics } = reading;
    const count = diagnostics.length === 1 ? 'an error' : `${diagnostics.length} errors`;
    throw new ActionLoadError(`local action ${uses} cannot run: ${file} has ${count}`, {
      file,
      source,
      diagnostics,
    });
  }
  return {
    manifest: reading.manifest,
    directory,
    file,
    warnings: reading.warnings.map((diagnostic) => located(file, diagnostic)),
  };
}

/** `file:line:col: error: message`, as the workflow's own diagnostics are written. */
export function located(file: string, diagnostic: Diagnostic): string {
  return `${file}:${diagnostic.line}:${diagnostic.col}: ${diagnostic.severity}: ${diagnostic.message}`;
}
