import { readFileSync } from 'node:fs';
import { UsageError } from './exit-codes.js';

/** Collects repeated `--secret NAME=VALUE` style options into a record. */
export function collectPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError(`expected NAME=VALUE, received ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/**
 * Reads a dotenv file: `NAME=VALUE` lines, `#` comments, optional `export `, values optionally in
 * single or double quotes (double quotes understand \n). Errors name the file and line.
 */
export function readDotenv(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read secrets file ${path}`);
  }
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match)
      throw new UsageError(`${path}:${i + 1}: expected NAME=VALUE, received ${JSON.stringify(raw)}`);
    const [, name = '', value = ''] = match;
    out[name] = unquote(value);
  }
  return out;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"');
  }
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  return value.replace(/\s+#.*$/, '');
}
