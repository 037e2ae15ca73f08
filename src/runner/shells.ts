import { findOnPath } from '../platform/executable-on-path.js';
import { splitShellWords } from '../workflow/shell-words.js';

/**
 * How a step's script is run, as GitHub does it on Linux and macOS (actions/runner's
 * ScriptHandlerHelpers). The script goes to a file and `{0}` is replaced by its path. Unset shell
 * means `bash -e {0}` (no pipefail, as on GitHub), or `sh -e {0}` without bash; `shell: bash` adds
 * `--noprofile --norc -eo pipefail`. A custom shell is split into words with quotes as sh reads them (shell-words.ts), and
 * `{0}` is replaced in each word after the split, so a path with spaces stays one argument.
 */
export interface ShellCommand {
  readonly command: string;
  readonly args: string[];
  /** File extension for the script, which some interpreters care about. */
  readonly extension: string;
}

interface BuiltInShell {
  readonly command: string;
  readonly extension: string;
}

/**
 * GitHub's built-in shells. `pwsh`, `powershell` and `cmd` are GitHub's even where they are not
 * installed: a workflow may hold a step for another OS (`if: runner.os == 'Windows'`), and one that
 * runs without its shell fails as it does on a self-hosted runner — "command not found".
 */
const builtInShells: Readonly<Record<string, BuiltInShell>> = {
  bash: { command: 'bash --noprofile --norc -eo pipefail {0}', extension: '.sh' },
  sh: { command: 'sh -e {0}', extension: '.sh' },
  python: { command: 'python3 {0}', extension: '.py' },
  pwsh: { command: `pwsh -command ". '{0}'"`, extension: '.ps1' },
  powershell: { command: `powershell -command ". '{0}'"`, extension: '.ps1' },
  cmd: { command: 'cmd /D /E:ON /V:OFF /S /C "CALL "{0}""', extension: '.cmd' },
};

/**
 * Throws, naming the shell and the problem, on a shell whose quotes are not closed. `searchPath` is
 * the step's PATH, where a step without a shell looks for bash (unsetShellCommand).
 */
export function shellCommand(
  shell: string | undefined,
  scriptPath: string,
  searchPath?: string,
): ShellCommand {
  const template = shell === undefined || shell === '' ? unsetShellCommand(searchPath) : shellTemplate(shell);
  const split = splitShellWords(template.command);
  if (!split.ok) throw new Error(`${split.message} in shell: ${shell}`);
  const [command = 'bash', ...rest] = split.words;
  return {
    command,
    args: rest.map((part) => part.replaceAll('{0}', scriptPath)),
    extension: template.extension,
  };
}

export function scriptExtension(shell: string | undefined): string {
  return shellTemplate(shell).extension;
}

/**
 * The script as the shell is given it: as on GitHub, PowerShell stops at the first error and exits
 * with the last native command's code, and cmd does not echo its commands. Chosen by the shell's
 * command word, so `pwsh -File {0}` is fixed up as `pwsh` is.
 */
export function shellScript(shell: string | undefined, script: string): string {
  switch (commandWord(shell)) {
    case 'pwsh':
    case 'powershell':
      return `$ErrorActionPreference = 'stop'\n${script}\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }`;
    case 'cmd':
      return `@echo off\n${script}`;
    default:
      return script;
  }
}

const unsetBash: BuiltInShell = { command: 'bash -e {0}', extension: '.sh' };
const unsetSh: BuiltInShell = { command: 'sh -e {0}', extension: '.sh' };
const bashFound = new Map<string, boolean>();

/**
 * A step without a shell: `bash -e {0}`, or as actions/runner does where `bash` is not on the PATH
 * (a minimal or Alpine machine), `sh -e {0}`. Looked up once per PATH (a job's PATH rarely changes).
 */
function unsetShellCommand(searchPath: string | undefined): BuiltInShell {
  if (searchPath === undefined) return unsetBash;
  let found = bashFound.get(searchPath);
  if (found === undefined) {
    found = findOnPath('bash', searchPath) !== undefined;
    if (bashFound.size >= 64) bashFound.clear();
    bashFound.set(searchPath, found);
  }
  return found ? unsetBash : unsetSh;
}

function shellTemplate(shell: string | undefined): BuiltInShell {
  if (shell === undefined || shell === '') return unsetBash;
  const builtIn = Object.hasOwn(builtInShells, shell) ? builtInShells[shell] : undefined;
  if (builtIn !== undefined) return builtIn;
  // As on GitHub, a custom shell's script gets the extension of its command's built-in namesake
  // (`pwsh -File {0}` needs `.ps1`).
  const word = commandWord(shell);
  const namesake = Object.hasOwn(builtInShells, word) ? builtInShells[word] : undefined;
  return {
    command: shell.includes('{0}') ? shell : `${shell} {0}`,
    extension: namesake?.extension ?? '',
  };
}

/** GitHub's split: the shell's text up to its first space. */
function commandWord(shell: string | undefined): string {
  return shell?.trim().split(' ', 1)[0] ?? '';
}
