import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFailureText } from '../core/read-failure.js';
import { secretNameProblem, variableNameProblem } from '../core/secret-names.js';
import { UsageError } from './exit-codes.js';
import { expandHome } from './home-path.js';

/**
 * Collects a repeated `--secret NAME=VALUE` style option into a record; a value that is not a pair
 * is refused naming the option it was given to.
 */
export function collectPair(
  option: string,
): (value: string, previous?: Record<string, string>) => Record<string, string> {
  return (value, previous = {}) => {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new UsageError(`${option}: expected NAME=VALUE, received ${JSON.stringify(value)}`);
    return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
  };
}

/**
 * The secrets given to a run (`run`, `submit`) or given again (`rerun` and `resume`, locally or
 * through a server): `--secrets-file`, then `--secret` (which wins), every name checked as GitHub
 * checks them (core/secret-names.ts), so that a name no workflow could use is refused before anything
 * is stored or sent. A well-named secret no step uses is taken, as GitHub takes one.
 */
export function checkedSecrets(options: {
  readonly secret?: Readonly<Record<string, string>>;
  readonly secretsFile?: string;
}): Record<string, string> {
  const secrets = { ...(options.secretsFile ? readDotenv(options.secretsFile) : {}), ...options.secret };
  for (const name of Object.keys(secrets)) {
    const problem = secretNameProblem(name);
    if (problem === undefined) continue;
    const from = options.secret !== undefined && name in options.secret ? '--secret' : options.secretsFile;
    throw new UsageError(`secret ${JSON.stringify(name)} (${from}) is refused: ${problem}`);
  }
  return secrets;
}

/**
 * act reads `.secrets` without being asked (its --secret-file defaults to it); Valkyrie reads only the
 * file named, so that a file beside the workflow never becomes secrets unnoticed. A run given no
 * secrets of a workflow that reads some, in a folder with `.secrets`, says how to name it.
 */
export function unreadSecretsFileNote(
  options: { readonly secret?: Readonly<Record<string, string>>; readonly secretsFile?: string },
  cwd: string,
  source: string,
): string | undefined {
  if (options.secret !== undefined || options.secretsFile !== undefined) return undefined;
  if (!/\bsecrets\b/.test(source) || !existsSync(join(cwd, '.secrets'))) return undefined;
  return 'note: .secrets is not read unless named (act reads it by default): valkyrie run --secrets-file .secrets';
}

/** The variables of a new run (`--var`), every name checked as GitHub checks them, as secrets' are. */
export function newRunVars(vars: Readonly<Record<string, string>> = {}): Record<string, string> {
  for (const name of Object.keys(vars)) {
    const problem = variableNameProblem(name);
    if (problem !== undefined)
      throw new UsageError(`variable ${JSON.stringify(name)} (--var) is refused: ${problem}`);
  }
  return { ...vars };
}

/**
 * Reads a dotenv file: `NAME=VALUE` lines, `#` comments, optional `export `, values optionally in
 * single, double or back quotes, which may span lines (as dotenv and Node's --env-file read them);
 * double quotes understand \n and \". A comment may follow a quoted value. Errors name the file and
 * line.
 */
export function readDotenv(given: string): Record<string, string> {
  const path = expandHome(given, '--secrets-file');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read secrets file ${path}: ${readFailureText(error)}`);
  }
  const lines = text.split(/\r?\n/);
  // A process environment cannot hold one: the step would fail to start with an error that prints it.
  const nul = lines.findIndex((line) => line.includes('\0'));
  if (nul >= 0)
    throw new UsageError(
      `${path}:${nul + 1}: holds a NUL byte, which no secret can hold (a process environment cannot)`,
    );
  const out: Record<string, string> = {};
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    // Only leading space goes: a quoted value that spans lines keeps its first line's trailing space.
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match)
      throw new UsageError(`${path}:${i + 1}: expected NAME=VALUE, received ${JSON.stringify(raw)}`);
    const [, name = '', value = ''] = match;
    const quote = value[0];
    if (quote !== '"' && quote !== "'" && quote !== '`') {
      out[name] = value.replace(/\s+#.*$/, '').trimEnd();
      continue;
    }
    // The value runs to its closing quote, on this line or a later one.
    const first = i;
    let rest = value.slice(1);
    let body = '';
    let close = closingQuote(rest, quote);
    while (close < 0 && i + 1 < lines.length) {
      body += `${rest}\n`;
      i++;
      rest = lines[i] ?? '';
      close = closingQuote(rest, quote);
    }
    if (close < 0)
      throw new UsageError(
        `${path}:${first + 1}: the value of ${name} opens a ${quote} quote that is never closed`,
      );
    const after = rest.slice(close + 1).trim();
    if (after !== '' && !after.startsWith('#'))
      throw new UsageError(
        `${path}:${i + 1}: unexpected ${JSON.stringify(after)} after the quoted value of ${name}`,
      );
    body += rest.slice(0, close);
    out[name] = quote === '"' ? body.replace(/\\n/g, '\n').replace(/\\"/g, '"') : body;
  }
  return out;
}

/** Where `quote` closes in `text`; a double quote escaped with a backslash does not. */
function closingQuote(text: string, quote: string): number {
  for (let at = 0; at < text.length; at++) {
    if (quote === '"' && text[at] === '\\') {
      at++;
      continue;
    }
    if (text[at] === quote) return at;
  }
  return -1;
}
