import { isRecord } from '../core/is-record.js';
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
  /** `::save-state name=NAME::VALUE` of a JavaScript action's part, as a line of $GITHUB_STATE; else ignored. */
  readonly saveState?: (name: string, value: string) => void;
  /** `::debug::` lines are logged, as GitHub's step debug logging does (stepDebugEnabled); else dropped. */
  readonly stepDebug?: boolean;
  /**
   * What `::set-env name=NAME::VALUE` and `::add-path::DIR` do — as a line of $GITHUB_ENV and of
   * $GITHUB_PATH would — when the step opted into them (unsecureCommandsAllowed); without, each fails
   * the step, as GitHub disabled them.
   */
  readonly unsecureCommands?: {
    readonly setEnv: (name: string, value: string) => void;
    readonly addPath: (directory: string) => void;
  };
}

/** GitHub's words (Constants.Runner.UnsupportedCommandMessage) for the deprecated set-output command. */
export const setOutputDeprecation = deprecation('set-output');
export const saveStateDeprecation = deprecation('save-state');
/** actions/runner's AddMaskCommandExtension, word for word. */
const emptyMaskWarning = "warning: Can't add secret mask for empty string in ##[add-mask] command.";

function deprecation(command: string): string {
  return `warning: The \`${command}\` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/`;
}

/** GitHub's words (Constants.Runner.UnsupportedCommandMessageDisabled) for set-env and add-path. */
export function disabledCommand(command: 'set-env' | 'add-path'): string {
  return `error: The \`${command}\` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the \`ACTIONS_ALLOW_UNSECURE_COMMANDS\` environment variable to \`true\`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/`;
}

/**
 * As actions/runner: set-env and add-path work when ACTIONS_ALLOW_UNSECURE_COMMANDS is true (read as
 * .NET's bool.TryParse reads it: any case, spaces around) in the step's `env` context — the
 * workflow's, job's or step's `env:`, or $GITHUB_ENV of an earlier step — or in the environment the
 * runner (or `valkyrie run`) was started with.
 */
export function unsecureCommandsAllowed(env: unknown, processEnv: Readonly<Record<string, string>>): boolean {
  const name = 'ACTIONS_ALLOW_UNSECURE_COMMANDS';
  return isTrueFlag(processEnv[name]) || isTrueFlag(contextField(env, name));
}

/**
 * GitHub's step debug logging: on when the secret or the variable ACTIONS_STEP_DEBUG is `true` (any
 * case, spaces around, as .NET's bool.TryParse reads it).
 */
export function stepDebugEnabled(secrets: unknown, vars: unknown): boolean {
  const name = 'ACTIONS_STEP_DEBUG';
  return isTrueFlag(contextField(secrets, name)) || isTrueFlag(contextField(vars, name));
}

/** A flag as actions/runner reads one (.NET's bool.TryParse): `true` in any case, spaces around. */
function isTrueFlag(value: unknown): boolean {
  return typeof value === 'string' && value.trim().toLowerCase() === 'true';
}

/** Field `name` of a context (`env`, `secrets`, `vars`), when it is an object. */
function contextField(context: unknown, name: string): unknown {
  return isRecord(context) ? context[name] : undefined;
}

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
 * `::stop-commands::` paused (on either stream, for both) and whether set-output (or save-state) was warned about
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
  /** The deprecated commands warned about: once each per step attempt. */
  private readonly warned = new Set<string>();
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
        // As actions/runner: a value of nothing but whitespace (an unset variable) masks nothing, and says so.
        if (command.message.trim() === '') this.system(emptyMaskWarning, line.at);
        else this.options.masker.add(command.message);
        break;
      case 'stop-commands':
        return this.stopCommands(command, line);
      case 'set-output':
        this.setOutput(command, line.at);
        break;
      case 'save-state':
        this.saveState(command, line.at);
        break;
      case 'set-env':
      case 'add-path':
        this.unsecureCommand(command, command.name, line.at);
        break;
      case 'debug':
        if (this.options.stepDebug === true) this.system(`debug: ${command.message}`, line.at);
        break;
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
    this.warnOnce(setOutputDeprecation, at);
    const name = this.requiredName(command, at);
    if (name !== undefined) this.options.setOutput(name, command.message);
  }

  /**
   * Kept by actions/runner for a JavaScript action's later parts (its post step): warned about as
   * GitHub does, and kept as `STATE_<name>` where the step is such an action's (`saveState`).
   */
  private saveState(command: WorkflowCommand, at: number): void {
    this.warnOnce(saveStateDeprecation, at);
    const name = this.requiredName(command, at);
    if (name !== undefined) this.options.saveState?.(name, command.message);
  }

  private unsecureCommand(command: WorkflowCommand, name: 'set-env' | 'add-path', at: number): void {
    const effects = this.options.unsecureCommands;
    if (effects === undefined) {
      this.commandError(disabledCommand(name), at);
    } else if (name === 'add-path') {
      if (command.message === '')
        this.commandError('error: ::add-path:: needs a directory; its value is empty', at);
      else effects.addPath(command.message);
    } else {
      const variable = this.requiredName(command, at);
      // As actions/runner, which keeps NODE_OPTIONS from set-env: an error line, the step not failed.
      if (variable?.toUpperCase() === 'NODE_OPTIONS')
        this.system("error: Can't update NODE_OPTIONS environment variable using ::set-env:: command.", at);
      else if (variable !== undefined) effects.setEnv(variable, command.message);
    }
  }

  /** The command's `name` property; without one, the command fails (so does the step). */
  private requiredName(command: WorkflowCommand, at: number): string | undefined {
    const name = command.properties.name;
    if (name !== undefined && name !== '') return name;
    this.commandError(`error: Required field 'name' is missing in ::${command.name}:: command`, at);
    return undefined;
  }

  private warnOnce(warning: string, at: number): void {
    if (this.warned.has(warning)) return;
    this.warned.add(warning);
    this.system(warning, at);
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
