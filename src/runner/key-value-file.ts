/** One entry of a `$GITHUB_OUTPUT` / `$GITHUB_ENV` / `$GITHUB_STATE` file, with the line it starts on. */
export interface KeyValueEntry {
  readonly name: string;
  readonly value: string;
  readonly line: number;
}

/**
 * Whether `\r\n` ends a line in a command file. actions/runner reads these files with LF as the only
 * line break, except on Windows (its ReadLine's OS_WINDOWS branch): elsewhere a CR stays in the
 * value, and a heredoc delimiter written with CRLF must be closed by one with CRLF.
 */
const crlfEndsLine = process.platform === 'win32';

/**
 * Reads a command file's entries one at a time, as actions/runner does (EnvFileKeyValuePairs):
 * `name=value` lines and `name<<DELIMITER` … `DELIMITER` blocks, whichever of `=` and `<<` comes
 * first deciding; empty lines between them are skipped, a line of only whitespace is not. Entries
 * before a malformed line have been yielded when it throws, as the runner applies them before it
 * fails the step. The name may be empty (`=value`): `$GITHUB_STATE` takes it, the others refuse it
 * (namedEntries).
 */
export function* keyValueEntries(
  content: string,
  fileLabel: string,
  crlf = crlfEndsLine,
): Generator<KeyValueEntry> {
  let lineNumber = 0;
  for (let line = readLine(content, 0, crlf); line !== undefined; line = readLine(content, line.next, crlf)) {
    lineNumber++;
    const { text } = line;
    if (text === '') continue;
    const where = `${fileLabel}: line ${lineNumber}`;
    const eq = text.indexOf('=');
    const heredoc = text.indexOf('<<');
    if (eq >= 0 && (heredoc < 0 || eq < heredoc)) {
      yield { name: text.slice(0, eq), value: text.slice(eq + 1), line: lineNumber };
      continue;
    }
    if (heredoc < 0 && text.trim() === '')
      throw new Error(
        `${where} holds only whitespace; only an empty line may stand between entries: ${shown(text)}`,
      );
    if (heredoc < 0) throw new Error(`${where} is not name=value or name<<DELIMITER: ${shown(text)}`);
    const name = text.slice(0, heredoc);
    const delimiter = text.slice(heredoc + 2);
    if (name === '') throw new Error(`${where} has an empty name before "<<": ${shown(text)}`);
    // As actions/runner: an empty delimiter (`echo "v<<$UNSET"`) would end at the first empty line.
    if (delimiter === '') throw new Error(`${where} has an empty delimiter after "<<": ${shown(text)}`);
    const start = line.next;
    let end = start;
    const opened = lineNumber;
    for (;;) {
      line = readLine(content, line.next, crlf);
      if (line === undefined)
        throw new Error(
          `${fileLabel}: matching delimiter ${shown(delimiter)} not found for "${name}" (opened on line ${opened})`,
        );
      lineNumber++;
      if (line.text === delimiter) break;
      end = line.end;
    }
    yield { name, value: content.slice(start, end), line: opened };
  }
}

/** keyValueEntries, refusing an empty name as actions/runner's SetOutput and SetEnvContext do. */
export function* namedEntries(
  content: string,
  fileLabel: string,
  crlf = crlfEndsLine,
): Generator<KeyValueEntry> {
  for (const entry of keyValueEntries(content, fileLabel, crlf)) {
    if (entry.name === '') throw new Error(`${fileLabel}: line ${entry.line} has an empty name before "="`);
    yield entry;
  }
}

/** A line of a file: its text without the line break, where that break starts, where the next line does. */
interface FileLine {
  readonly text: string;
  readonly end: number;
  readonly next: number;
}

function readLine(content: string, from: number, crlf: boolean): FileLine | undefined {
  if (from >= content.length) return undefined;
  const lf = content.indexOf('\n', from);
  if (lf < 0) return { text: content.slice(from), end: content.length, next: content.length };
  const end = crlf && lf > from && content[lf - 1] === '\r' ? lf - 1 : lf;
  return { text: content.slice(from, end), end, next: lf + 1 };
}

/** The text quoted so that a CR or only spaces show, with a word on the likely cause of a CR. */
function shown(text: string): string {
  const quoted = JSON.stringify(text);
  return text.endsWith('\r')
    ? `${quoted} (a CRLF line ending: only LF ends a line here, as on GitHub's Linux and macOS runners)`
    : quoted;
}
