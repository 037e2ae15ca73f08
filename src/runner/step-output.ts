import type { OutputLine } from '../executors/contract.js';
import type { JobReporter } from './job-run.js';
import type { SecretMasker } from './secret-masker.js';
import { describeAnnotation, parseWorkflowCommand, type WorkflowCommand } from './workflow-commands.js';

export interface StepOutputOptions {
  readonly stepIndex: number;
  readonly masker: SecretMasker;
  readonly reporter: JobReporter;
  /** `::set-output name=NAME::VALUE` sets the step's output NAME, as a line of $GITHUB_OUTPUT does. */
  readonly setOutput: (name: string, value: string) => void;
  /** A command could not be carried out (its error line is logged): the step attempt fails. */
  readonly commandFailed: () => void;
}

/** GitHub's words (Constants.Runner.UnsupportedCommandMessage) for the deprecated set-output command. */
export const setOutputDeprecation =
  'warning: The `set-output` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/';

/** The commands actions/runner registers: none of them may be a `::stop-commands::` token. */
const knownCommands = new Set([
  'add-mask',
  'add-matcher',
  'add-path',
  'debug',
  'echo',
  'endgroup',
  'error',
  'group',
  'notice',
  'remove-matcher',
  'save-state',
  'set-env',
  'set-output',
  'stop-commands',
  'warning',
]);

/**
 * The lines of one step attempt, on their way to the log: workflow commands on stdout are acted on
 * (`::add-mask::` registers a secret before anything else is printed), annotations and groups become
 * system lines, and every text is masked. One per step attempt: what `::stop-commands::` paused and
 * whether set-output was warned about hold for the step only, as in actions/runner.
 */
export class StepOutputForwarder {
  /** Set by `::stop-commands::TOKEN`: no command is acted on until a line `::TOKEN::`. */
  private stopToken: string | undefined;
  private warnedSetOutput = false;

  constructor(private readonly options: StepOutputOptions) {}

  forward(line: OutputLine): void {
    const command = line.stream === 'stdout' ? parseWorkflowCommand(line.text) : undefined;
    if (command === undefined) {
      this.print(line);
    } else if (this.stopToken !== undefined) {
      // Printed as they came, commands included, until the token resumes them.
      if (command.name === this.stopToken) this.stopToken = undefined;
      this.print(line);
    } else {
      this.act(command, line);
    }
  }

  private act(command: WorkflowCommand, line: OutputLine): void {
    switch (command.name) {
      case 'add-mask':
        this.options.masker.add(command.message);
        break;
      case 'stop-commands':
        this.stopCommands(command, line);
        break;
      case 'set-output':
        this.setOutput(command, line.at);
        break;
      case 'debug':
      case 'endgroup':
        break;
      case 'group':
        this.system(`▸ ${command.message}`, line.at);
        break;
      case 'error':
      case 'warning':
      case 'notice':
        this.system(describeAnnotation(command), line.at);
        break;
      default:
        this.print(line);
    }
  }

  /**
   * As actions/runner: the token may be neither empty, nor 'pause-logging', nor a command's name;
   * one longer than 6 characters is masked from then on, so the log does not tell how to resume.
   */
  private stopCommands(command: WorkflowCommand, line: OutputLine): void {
    const token = command.message.toLowerCase();
    if (token === '' || token === 'pause-logging' || knownCommands.has(token)) {
      this.commandError(
        "error: ::stop-commands:: needs a token that is not empty, not 'pause-logging' and not a workflow command's name; commands were not stopped",
        line.at,
      );
      return;
    }
    if (command.message.length > 6) this.options.masker.add(command.message);
    this.stopToken = token;
    this.print(line);
  }

  private setOutput(command: WorkflowCommand, at: number): void {
    if (!this.warnedSetOutput) {
      this.warnedSetOutput = true;
      this.system(setOutputDeprecation, at);
    }
    const name = command.properties.name;
    if (name === undefined || name === '') {
      this.commandError("error: Required field 'name' is missing in ::set-output:: command", at);
      return;
    }
    this.options.setOutput(name, command.message);
  }

  private print({ stream, text, at }: OutputLine): void {
    const { masker, reporter, stepIndex } = this.options;
    reporter.log({ stepIndex, stream, at, text: masker.mask(text) });
  }

  /** As actions/runner, whose failed command sets CommandResult = Failed: the step fails too. */
  private commandError(text: string, at: number): void {
    this.system(text, at);
    this.options.commandFailed();
  }

  private system(text: string, at: number): void {
    const { masker, reporter, stepIndex } = this.options;
    reporter.log({ stepIndex, stream: 'system', at, text: masker.mask(text) });
  }
}
