import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatBytes, parseByteSize } from '../bundle/size.js';
import { durationHint, parseDuration } from '../core/duration.js';
import { readFailureText } from '../core/read-failure.js';
import {
  isRunnerLabelShape,
  maxRunnerCapacity,
  maxRunnerLabelLength,
  maxRunnerLabels,
  maxRunnerNameLength,
  runnerNameFault,
} from '../core/runner-label.js';
import { textPrefix } from '../core/text-prefix.js';
import { timerDelay } from '../core/timer-delay.js';
import { tokenTextProblem } from '../core/token-text.js';
import { describeHost, runnerLabels } from '../runner/host.js';
import type { JobHooks } from '../runner/job-hooks.js';
import type { JobLogLimit } from '../runner/log-batcher.js';
import { clientToken, serverBaseUrl, serverSource } from './client-flags.js';
import { UsageError } from './exit-codes.js';
import { expandHome } from './home-path.js';

/** `valkyrie runner`'s flags as commander hands them over; everything optional. */
export interface RunnerCommandOptions {
  readonly server?: string;
  readonly token?: string;
  /** A file holding the registration token: unlike `--token`, not in the process's command line. */
  readonly tokenFile?: string;
  readonly name?: string;
  /** Each `--labels` as given, commas and all (resolveRunnerSettings splits and checks them). */
  readonly labels?: string[];
  /** commander's `--no-hosted-labels`: false when given. */
  readonly hostedLabels?: boolean;
  readonly capacity?: string;
  readonly workDir?: string;
  readonly protocol?: string;
  readonly maxLogSize?: string;
  readonly ephemeral?: boolean;
  readonly idleTimeout?: string;
  readonly jobStartedHook?: string;
  readonly jobCompletedHook?: string;
}

export type RunnerProtocol = 'auto' | 'ws' | 'http';

/** Validated and complete; the token is only needed for a runner not registered yet. */
export interface RunnerSettings {
  /** `http(s)://host:port`, without a trailing slash. */
  readonly server: string;
  readonly token: string | undefined;
  /** The flag that gave `token`; undefined when it came from VALKYRIE_TOKEN (or there is none). */
  readonly tokenFlag: '--token' | '--token-file' | undefined;
  readonly name: string | undefined;
  readonly labels: readonly string[];
  /** Whether the OS's hosted labels (`ubuntu-latest`, …) are added to the derived ones. */
  readonly hostedLabels: boolean;
  readonly capacity: number;
  readonly workDir: string;
  readonly protocol: RunnerProtocol;
  /** What a job may print before the rest is left out. */
  readonly logLimit: JobLogLimit;
  /** Take one job, then stop once it ends (AutoStop). */
  readonly ephemeral: boolean;
  /** Stop once no job has run for this long (AutoStop); undefined: never. */
  readonly idleTimeoutMs: number | undefined;
  /** Absolute paths of the scripts run around every job. */
  readonly hooks: JobHooks;
  /** Capabilities are detected again this often and sent to the control plane. */
  readonly capabilityRefreshMs: number;
}

/** How often a runner detects its capabilities again: a tool installed meanwhile is offered within it. */
export const defaultCapabilityRefreshMs = 5 * 60_000;

/** `--max-log-size`'s default: GitLab Runner's 4 MiB cuts off ordinary verbose builds; 100 MiB rarely. */
export const defaultMaxLogBytes = 100 * 1024 ** 2;

export const defaultWorkDir = join(homedir(), '.valkyrie', 'runner');

/** Flags win over `VALKYRIE_SERVER` / `VALKYRIE_TOKEN`; every mistake names the flag and the value. */
export function resolveRunnerSettings(
  options: RunnerCommandOptions,
  env: NodeJS.ProcessEnv,
  cwd: string,
): RunnerSettings {
  const server = options.server ?? env.VALKYRIE_SERVER;
  if (server === undefined || server === '')
    throw new UsageError(
      '--server (or VALKYRIE_SERVER) is required: the control plane, e.g. http://ci.example:7070',
    );
  const ephemeral = options.ephemeral === true;
  const capacityN = capacity(options.capacity);
  if (ephemeral && capacityN > 1)
    throw new UsageError(
      `--ephemeral runs one job and then stops: leave out --capacity, received ${JSON.stringify(options.capacity)}`,
    );
  return Object.freeze({
    server: serverBaseUrl(server, serverSource(options.server)),
    token: registrationToken(options, env, cwd),
    tokenFlag:
      options.tokenFile !== undefined ? '--token-file' : options.token !== undefined ? '--token' : undefined,
    name: runnerName(options.name),
    labels: labelCount((options.labels ?? []).flatMap(labelsOf), options.hostedLabels !== false),
    hostedLabels: options.hostedLabels !== false,
    capacity: capacityN,
    workDir: workDir(options.workDir, cwd),
    protocol: protocol(options.protocol),
    logLimit: logLimit(options.maxLogSize),
    ephemeral,
    idleTimeoutMs: idleTimeout(options.idleTimeout),
    hooks: jobHooks(options, env, cwd),
    capabilityRefreshMs: capabilityRefresh(env),
  });
}

/**
 * How to give a registration token, for the lines that ask for one: the flag this runner was started
 * with, else both (the README starts runners with --token-file, so "run with --token" alone misled).
 */
export function registrationFlags(settings: RunnerSettings): string {
  return settings.tokenFlag ?? '--token-file FILE (or --token TOKEN)';
}

/**
 * `--token`, `--token-file` or `VALKYRIE_TOKEN`. A long-running runner's command line is readable by
 * every user of its machine (`ps`), a file can be made readable by the runner's user alone. A token
 * that no Authorization header could carry is refused naming where it came from, as the client
 * commands refuse theirs (clientToken): sent, the server could only answer 401 about the header.
 */
function registrationToken(
  options: RunnerCommandOptions,
  env: NodeJS.ProcessEnv,
  cwd: string,
): string | undefined {
  if (options.tokenFile === undefined) return clientToken(options, env);
  if (options.token !== undefined)
    throw new UsageError('--token and --token-file: give one of them, not both');
  const file = resolve(cwd, expandHome(options.tokenFile, '--token-file'));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--token-file: cannot read ${file}: ${readFailureText(error)}`);
  }
  const token = text.trim();
  if (token === '' || /\s/.test(token))
    throw new UsageError(`--token-file: ${file} must hold one token on one line, and nothing else`);
  const problem = tokenTextProblem(token);
  if (problem !== undefined) throw new UsageError(`--token-file: the token in ${file} ${problem}`);
  return token;
}

/**
 * The name of a runner started without --name and with none stored: this machine's host name, the
 * first maxRunnerNameLength characters of a longer one (macOS and Windows allow 255; Linux 64), said
 * on `warn` — the default is ours to fit, and a host name's start is what tells the machine. A host
 * name that is blank, or with a control character (sethostname(2) takes them), names no runner the
 * server would take: refused here, at start, naming --name.
 */
export function hostRunnerName(host: string, warn: (line: string) => void): string {
  const name = textPrefix(host, maxRunnerNameLength);
  const fault = runnerNameFault(name);
  if (fault !== undefined)
    throw new UsageError(
      `this machine's host name ${JSON.stringify(host)} cannot name a runner (${fault}); give it a name with --name`,
    );
  if (name !== host)
    warn(
      `this machine's host name has ${host.length} characters, more than a runner's name may (${maxRunnerNameLength}): ` +
        `it registers as ${JSON.stringify(name)}; give it another name with --name`,
    );
  return name;
}

/**
 * The server's limits for a runner's name (core/runner-label.ts), told as this flag's: a runner with a
 * stored credential sends its name only in its session's `register`, which the server refuses whole.
 */
function runnerName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  switch (runnerNameFault(name)) {
    case 'blank':
      throw new UsageError(`--name must not be empty or blank, received ${JSON.stringify(name)}`);
    case 'control character':
      throw new UsageError(
        `--name: no control characters (newline, tab, ESC, …), received ${JSON.stringify(name)}`,
      );
    case 'too long':
      throw new UsageError(
        `--name must be at most ${maxRunnerNameLength} characters, received ${name.length}: ${JSON.stringify(`${name.slice(0, 20)}…`)}`,
      );
    case undefined:
      return name;
  }
}

/**
 * One `--labels` value. An empty label is refused rather than dropped: an unset `$LABELS` in a unit
 * file (`--labels "$LABELS"`) registered a runner without the labels it was meant to have, silently.
 */
function labelsOf(given: string): string[] {
  const labels = given.split(',');
  if (labels.includes(''))
    throw new UsageError(
      `--labels: an empty label (nothing between two commas, or before or after one, or an empty --labels), received ${JSON.stringify(given)}`,
    );
  return labels.map(checkLabel);
}

/**
 * The given labels, when they and the derived ones (runnerLabels) are no more than the server
 * registers: past it, a new runner's registration was refused with the API's `body.labels`, and one
 * registered before took them all.
 */
function labelCount(given: readonly string[], hosted: boolean): readonly string[] {
  const derived = runnerLabels(describeHost('any'), [], { local: false, hosted });
  const all = runnerLabels(describeHost('any'), given, { local: false, hosted });
  if (all.length > maxRunnerLabels)
    throw new UsageError(
      `--labels: a runner has at most ${maxRunnerLabels} labels, the ${derived.length} it is given ` +
        `(${derived.slice(0, 3).join(', ')}, …) included; received ${given.length}`,
    );
  return given;
}

function checkLabel(label: string): string {
  if (!isRunnerLabelShape(label))
    throw new UsageError(
      `--labels: a label has no spaces, commas or control characters, received ${JSON.stringify(label)}`,
    );
  if (label.length > maxRunnerLabelLength)
    throw new UsageError(
      `--labels: a label has at most ${maxRunnerLabelLength} characters, received ${label.length}: ${JSON.stringify(`${label.slice(0, 20)}…`)}`,
    );
  return label;
}

function workDir(value: string | undefined, cwd: string): string {
  // An unset variable in a unit file (`--work-dir "$RUNNER_DIR"`) gives "": resolved, that was the
  // current directory, which then got runner.json, jobs/ and tmp/ as if it had been asked for.
  if (value !== undefined && value.trim() === '')
    throw new UsageError(
      `--work-dir must name a directory, received ${JSON.stringify(value)} (for the current one, give .)`,
    );
  return resolve(cwd, expandHome(value ?? defaultWorkDir, '--work-dir'));
}

function capacity(value: string | undefined): number {
  if (value === undefined) return 1;
  // Digits only: Number() also reads " 2", "0x10" and "1e2", so a typo ran 16 or 100 jobs at once.
  const n = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > maxRunnerCapacity)
    throw new UsageError(
      `--capacity must be a whole number from 1 to ${maxRunnerCapacity}, received ${JSON.stringify(value)}`,
    );
  return n;
}

/**
 * `--job-started-hook` / `--job-completed-hook`, or VALKYRIE_RUNNER_HOOK_JOB_STARTED / _COMPLETED (as
 * GitHub's runner reads ACTIONS_RUNNER_HOOK_JOB_STARTED): each a readable file, checked now so that a
 * typo stops the runner at its start rather than failing every job it takes.
 */
function jobHooks(options: RunnerCommandOptions, env: NodeJS.ProcessEnv, cwd: string): JobHooks {
  const hook = (flag: string, given: string | undefined, variable: string) => {
    const value = given ?? (env[variable] || undefined);
    if (value === undefined) return {};
    const from = given === undefined ? variable : flag;
    const file = resolve(cwd, expandHome(value, from));
    try {
      if (!statSync(file).isFile()) throw new UsageError(`${from}: ${file} is not a file`);
      accessSync(file, constants.R_OK);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      throw new UsageError(`${from}: cannot read ${file}: ${readFailureText(error)}`);
    }
    return { file };
  };
  const started = hook('--job-started-hook', options.jobStartedHook, 'VALKYRIE_RUNNER_HOOK_JOB_STARTED');
  const completed = hook(
    '--job-completed-hook',
    options.jobCompletedHook,
    'VALKYRIE_RUNNER_HOOK_JOB_COMPLETED',
  );
  return Object.freeze({
    ...(started.file === undefined ? {} : { started: started.file }),
    ...(completed.file === undefined ? {} : { completed: completed.file }),
  });
}

/** At least a second: a runner that stops before a job could reach it is a mistake, not a setting. */
function idleTimeout(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1000)
    throw new UsageError(
      `--idle-timeout must be ${durationHint} of at least 1s, received ${JSON.stringify(value)}`,
    );
  return ms;
}

/**
 * $VALKYRIE_CAPABILITY_REFRESH, else defaultCapabilityRefreshMs. Meant for tests, which cannot wait
 * 5 minutes for a refresh.
 */
function capabilityRefresh(env: NodeJS.ProcessEnv): number {
  const value = env.VALKYRIE_CAPABILITY_REFRESH;
  if (value === undefined || value === '') return defaultCapabilityRefreshMs;
  const ms = parseDuration(value);
  if (ms !== undefined && ms >= 100) return timerDelay(ms);
  throw new UsageError(
    `VALKYRIE_CAPABILITY_REFRESH: expected ${durationHint}, at least 100ms, received ${JSON.stringify(value)}`,
  );
}

function protocol(value: string | undefined): RunnerProtocol {
  if (value === undefined) return 'auto';
  if (value === 'auto' || value === 'ws' || value === 'http') return value;
  throw new UsageError(`--protocol must be auto, ws or http, received ${JSON.stringify(value)}`);
}

function logLimit(value: string | undefined): JobLogLimit {
  const bytes = value === undefined ? defaultMaxLogBytes : parseByteSize(value);
  if (bytes === undefined || bytes < 1024)
    throw new UsageError(
      `--max-log-size must be a size of at least 1KiB, like 100MiB or 1GiB, received ${JSON.stringify(value)}`,
    );
  return Object.freeze({
    bytes,
    notice: `the job's output reached this runner's limit of ${formatBytes(bytes)} (valkyrie runner --max-log-size): the rest is left out of its log; the job goes on`,
  });
}

/** The protocol endpoints under the server's base URL. */
export function protocolUrls(server: string): { webSocketUrl: string; longPollUrl: string } {
  const base = new URL(server);
  const path = base.pathname.replace(/\/+$/, '');
  const ws = `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}${path}`;
  return { webSocketUrl: `${ws}/api/v1/runner/ws`, longPollUrl: `${server}/api/v1/runner/poll` };
}
