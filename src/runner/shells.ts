import { splitShellWords } from '../workflow/shell-words.js';

/**
 * How a step's script is run, as GitHub does it on Linux and macOS. The script goes to a file and
 * `{0}` is replaced by its path. Unset shell means `bash -e {0}` (no pipefail, as on GitHub);
 * `shell: bash` adds `--noprofile --norc -eo pipefail`. A custom shell is split into words with
 * quotes as sh reads them (shell-words.ts), and `{0}` is replaced in each word after the split, so a
 * path with spaces stays one argument.
 */
export interface ShellCommand {
  readonly command: string;
  readonly args: string[];
  /** File extension for the script, which some interpreters care about. */
  readonly extension: string;
}

/** Throws, naming the shell and the problem, on a shell whose quotes are not closed. */
export function shellCommand(shell: string | undefined, scriptPath: string): ShellCommand {
  const template = shellTemplate(shell);
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

function shellTemplate(shell: string | undefined): { command: string; extension: string } {
  switch (shell) {
    case undefined:
    case '':
      return { command: 'bash -e {0}', extension: '.sh' };
    case 'bash':
      return { command: 'bash --noprofile --norc -eo pipefail {0}', extension: '.sh' };
    case 'sh':
      return { command: 'sh -e {0}', extension: '.sh' };
    case 'python':
      return { command: 'python3 {0}', extension: '.py' };
    default:
      return { command: shell.includes('{0}') ? shell : `${shell} {0}`, extension: '' };
  }
}
