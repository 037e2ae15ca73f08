/**
 * GitHub's workflow commands printed on stdout: `::name key=value,key=value::message`.
 * See "Workflow commands for GitHub Actions".
 */
export interface WorkflowCommand {
  readonly name: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly message: string;
}

const commandLine = /^::([A-Za-z-]+)(?:\s+([^:]*))?::(.*)$/;

export function parseWorkflowCommand(line: string): WorkflowCommand | undefined {
  const match = commandLine.exec(line.trimStart());
  if (!match) return undefined;
  const [, name = '', rawProperties = '', message = ''] = match;
  const properties: Record<string, string> = {};
  for (const pair of rawProperties.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    properties[pair.slice(0, eq).trim()] = unescapeProperty(pair.slice(eq + 1));
  }
  return { name: name.toLowerCase(), properties, message: unescapeData(message) };
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
