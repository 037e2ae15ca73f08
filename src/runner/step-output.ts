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

interface CutCommand {
  readonly command: WorkflowCommand;
  warned: boolean;
}

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
 * The lines of one step attempt, on their way to the log: workflow commands on stdout and stderr are
 * acted on alike (`::add-mask::` registers a secret before anything else is printed), annotations and
 * groups become system lines, and every text is masked. One per step attempt: what
 * `::stop-commands::` paused (on either stream, for both) and whether set-output was warned about
 * hold for the step only, as in actions/runner, whose one command manager reads both streams. The
 * streams are read apart, so a command on one acts on lines of the other read after it.
 *
 * Only whole lines are commands. The rest of a line too long to hand on whole (OutputLine.continued)
 * is never read as one; the rest of a command's line is dropped with a warning, not printed, because
 * it may be the end of an `::add-mask::` value: only the value's first piece is then masked. Holding
 * the whole value instead would let a step make us buffer any amount of output.
 */
export class StepOutputForwarder {
  /** Set by `::stop-commands::TOKEN`: no command is acted on until a line `::TOKEN::`. */
  private stopToken: string | undefined;
  private warnedSetOutput = false;
  /** Per stream, the command whose line came last and was not printed: its cut-off rest is not either. */
  private readonly unprintedCommand: Record<OutputLine['stream'], CutCommand | undefined> = {
    stdout: undefined,
    stderr: undefined,
  };

  constructor(private readonly options: StepOutputOptions) {}

  forward(line: OutputLine): void {
    if (line.continued === true) {
      this.forwardRest(line);
      return;
    }
    this.unprintedCommand[line.stream] = undefined;
    const command = parseWorkflowCommand(line.text);
    if (command === undefined) {
      this.print(line);
    } else if (this.stopToken !== undefined) {
      // Printed as they came, commands included, until the token resumes them.
      if (command.name === this.stopToken) this.stopToken = undefined;
      this.print(line);
    } else if (this.act(command, line) === 'acted') {
      this.unprintedCommand[line.stream] = { command, warned: false };
    }
  }

  /** A piece of a cut line after its first: printed as text, or dropped if its line was a command. */
  private forwardRest(line: OutputLine): void {
    const cut = this.unprintedCommand[line.stream];
    if (cut === undefined) {
      this.print(line);
      return;
    }
    if (cut.warned) return;
    cut.warned = true;
    const { name, message } = cut.command;
    const masked =
      name === 'add-mask' ? `; only the first ${message.length} characters of the value are masked` : '';
    this.system(
      `warning: the line of a ::${name}:: command was too long to read whole: it was acted on with its first part only and the rest was dropped${masked}`,
      line.at,
    );
  }

  /** 'printed' when the line went to the log as it came (an unknown command, a stop accepted). */
  private act(command: WorkflowCommand, line: OutputLine): 'acted' | 'printed' {
    switch (command.name) {
      case 'add-mask':
        this.options.masker.add(command.message);
        break;
      case 'stop-commands':
        return this.stopCommands(command, line);
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
        return 'printed';
    }
    return 'acted';
  }

  /**
   * As actions/runner: the token may be neither empty, nor 'pause-logging', nor a command's name;
   * one longer than 6 characters is masked from then on, so the log does not tell how to resume.
   */
  private stopCommands(command: WorkflowCommand, line: OutputLine): 'acted' | 'printed' {
    const token = command.message.toLowerCase();
    if (token === '' || token === 'pause-logging' || knownCommands.has(token)) {
      this.commandError(
        "error: ::stop-commands:: needs a token that is not empty, not 'pause-logging' and not a workflow command's name; commands were not stopped",
        line.at,
      );
      return 'acted';
    }
    if (command.message.length > 6) this.options.masker.add(command.message);
    this.stopToken = token;
    this.print(line);
    return 'printed';
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
