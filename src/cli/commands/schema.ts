import { workflowJsonSchema } from '../../workflow/schema.js';
import { ExitCode } from '../exit-codes.js';

export function schemaCommand(): number {
  process.stdout.write(`${JSON.stringify(workflowJsonSchema(), null, 2)}\n`);
  return ExitCode.succeeded;
}
