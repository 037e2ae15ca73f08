/**
 * GitHub's workflow commands printed on stdout: `::name key=value,key=value::message`.
 * See "Workflow commands for GitHub Actions".
 */
export interface WorkflowCommand {
  readonly name: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly message: string;
}

/**
 * As actions/runner reads a line (ActionCommand.TryParseV2): after leading spaces, `::`, the command's
 * information up to the next `::`, its name up to the first space there. The name is any text
 * (a `::stop-commands::` token is one), compared without case, so it is given lowercased.
 */
export function parseWorkflowCommand(line: string): WorkflowCommand | undefined {
  const text = line.trimStart();
  if (!text.startsWith('::')) return undefined;
  const end = text.indexOf('::', 2);
  if (end < 0) return undefined;
  const info = text.slice(2, end);
  const space = info.indexOf(' ');
  const name = space < 0 ? info : info.slice(0, space);
  if (name === '') return undefined;
  const properties: Record<string, string> = {};
  for (const pair of (space < 0 ? '' : info.slice(space + 1)).split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    properties[pair.slice(0, eq).trim()] = unescapeProperty(pair.slice(eq + 1));
  }
  return { name: name.toLowerCase(), properties, message: unescapeData(text.slice(end + 2)) };
}

function unescapeData(text: string): string {
  return text.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');
}

function unescapeProperty(text: string): string {
  return unescapeData(text).replace(/%3A/gi, ':').replace(/%2C/gi, ',');
}

/** Human form of an annotation, e.g. `error (src/a.ts:3): message`. */
export function describeAnnotation(command: WorkflowCommand): string {
  const { file, line, col } = command.properties;
  const where = file ? ` (${file}${line ? `:${line}` : ''}${col ? `:${col}` : ''})` : '';
  const title = command.properties.title ? `${command.properties.title}: ` : '';
  return `${command.name}${where}: ${title}${command.message}`;
}
