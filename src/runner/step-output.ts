import type { OutputLine } from '../executors/contract.js';
import type { JobReporter } from './job-run.js';
import type { SecretMasker } from './secret-masker.js';
import { describeAnnotation, parseWorkflowCommand } from './workflow-commands.js';

/**
 * One line a step printed, on its way to the log: workflow commands on stdout are acted on
 * (`::add-mask::` registers a secret before anything else is printed), annotations and groups become
 * system lines, and every text is masked.
 */
export function forwardStepOutput(
  line: OutputLine,
  stepIndex: number,
  masker: SecretMasker,
  reporter: JobReporter,
): void {
  const { stream, text, at } = line;
  const command = stream === 'stdout' ? parseWorkflowCommand(text) : undefined;
  switch (command?.name) {
    case 'add-mask':
      masker.add(command.message);
      return;
    case 'debug':
    case 'endgroup':
      return;
    case 'group':
      reporter.log({ stepIndex, stream: 'system', at, text: `▸ ${masker.mask(command.message)}` });
      return;
    case 'error':
    case 'warning':
    case 'notice':
      reporter.log({ stepIndex, stream: 'system', at, text: masker.mask(describeAnnotation(command)) });
      return;
    default:
      reporter.log({ stepIndex, stream, at, text: masker.mask(text) });
  }
}
