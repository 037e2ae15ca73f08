import { realpathSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { defaultMaxBundleBytes, parseByteSize } from '../../bundle/size.js';
import { durationHint, parseDuration } from '../../core/duration.js';
import { isFinishedRunStatus } from '../../core/outcome.js';
import { isWorkspacePath } from '../../protocol/workflow-file.js';
import { nonAsciiHeaderCharacter } from '../../store/idempotency-key.js';
import { formatDiagnostics } from '../../workflow/diagnostics.js';
import { inputFlagHint, inputlessEventNote, runInputs } from '../../workflow/inputs.js';
import type { MatrixFilter } from '../../workflow/matrix.js';
import { loadWorkflow } from '../../workflow/parse.js';
import { chooseEvent } from '../../workflow/triggers.js';
import { ApiClient } from '../api-client.js';
import { lostOutputExitCode, lostOutputWords, type OutputLoss, writeOrLoss } from '../closed-output.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { type FieldFlags, keyedListFlag, listFlag, onceFlag, pairFlag, secretFlags } from '../field-flags.js';
import { defaultReconnectTimeoutMs, followRun, followSignals } from '../follow-run.js';
import { gitWorkTreeTop } from '../git-work-tree.js';
import { expandHome } from '../home-path.js';
import type { InterruptSignals } from '../interrupt-signals.js';
import { selectedWorkflow } from '../job-option.js';
import { checkedSecrets, newRunVars } from '../key-values.js';
import { type LoadedLocalAction, localActionProblems } from '../local-action-check.js';
import { filteredWorkflow } from '../matrix-option.js';
import { ProgressLine } from '../progress-line.js';
import { parseQueueFlags } from '../queue-options.js';
import { defaultRetryWait } from '../retry-wait.js';
import type { ApiRun } from '../run-answer.js';
import { sameServerFlags } from '../same-server-flags.js';
import { ServerClient } from '../server-client.js';
import { reportServerFailure } from '../server-failure.js';
import { shellWord } from '../shell-word.js';
import { streamSilenceLimitMs } from '../stream-silence.js';
import type { BundleReport } from '../submit-bundle.js';
import { createRunWithGit, submittedGitContext } from '../submit-git.js';
import { interruptibleUpload } from '../submit-interrupt.js';
import { runHeading } from '../views/format.js';
import { warnWaiting } from '../waiting-job.js';
import { workflowFileOf } from '../workflow-file.js';

export interface SubmitCommandOptions {
  readonly server?: string;
  readonly token?: string;
  readonly follow?: boolean;
  /** `--job`: run only these jobs and the jobs they need (the API's `jobs`). */
  readonly job?: string[];
  /** `--matrix`: run only the matrix legs it keeps (the API's `matrix`; cli/matrix-option.ts). */
  readonly matrix?: MatrixFilter;
  readonly json?: boolean;
  readonly color?: boolean;
  readonly secret?: Record<string, string>;
  readonly secretsFile?: string;
  readonly env?: Record<string, string>;
  readonly var?: Record<string, string>;
  readonly input?: Record<string, string>;
  readonly event?: string;
  readonly priority?: string;
  readonly idempotencyKey?: string;
  readonly workspace?: string;
  /** false with --no-bundle: the run gets no workspace. */
  readonly bundle?: boolean;
  /** false with --no-git-dir: a git repository's bundle has no `.git`. */
  readonly gitDir?: boolean;
  readonly maxBundleSize?: string;
  /** With --follow: how long to keep reconnecting a lost event stream, e.g. `2m`. */
  readonly reconnectTimeout?: string;
}

/**
 * `valkyrie submit`: validates the workflow as `valkyrie run` does (nothing is sent when it has
 * errors), bundles the workspace and uploads it unless the server has that hash, creates the run,
 * and with --follow renders its events and exits as `valkyrie run` would.
 */
export async function submitCommand(
  file: string | undefined,
  options: SubmitCommandOptions,
): Promise<number> {
  const progress = new ProgressLine(process.stderr);
  // A notice of a server restarting mid-upload goes on a line of its own, not after the live one.
  const api = ApiClient.fromFlags(options, process.env, {
    ...defaultRetryWait,
    notice: (line) => progress.say(line),
  });
  if (!api.hasToken)
    throw new UsageError(
      'no token given: pass --token T or set VALKYRIE_TOKEN (create one with: valkyrie token create --role submit)',
    );
  const client = new ServerClient(api);
  const cwd = process.cwd();
  const workspace = resolve(cwd, expandHome(options.workspace ?? '.', '--workspace'));
  requireFolder(workspace, options.workspace);
  const queue = parseQueueFlags(
    { priority: options.priority, idempotencyKey: options.idempotencyKey },
    Date.now(),
  );
  // Sent as an HTTP header, which carries printable ASCII only: fetch refused any character past
  // U+00FF as an unreachable server, and sent é as a byte no other client sends it as.
  const nonAscii =
    options.idempotencyKey === undefined ? undefined : nonAsciiHeaderCharacter(options.idempotencyKey);
  if (nonAscii !== undefined)
    throw new UsageError(
      `--idempotency-key must be printable ASCII (it is sent as an HTTP header), received ${JSON.stringify(options.idempotencyKey)}, whose character ${nonAscii.position} is ${JSON.stringify(nonAscii.char)}`,
    );
  const maxBytes = parseMaxBundleSize(options.maxBundleSize);
  const reconnectTimeoutMs = parseReconnectTimeout(options.reconnectTimeout);
  // Read before the run is created, as the flags are: a wrong value must not leave a run unfollowed.
  const silenceLimitMs = options.follow ? streamSilenceLimitMs() : undefined;
  // Without a FILE (or with a bare name of one), the workspace's own, as `valkyrie run` finds it here;
  // after the flags, as `run` does.
  const path = workflowFileOf(file, 'submit', cwd, workspace);
  // No runner labels: which runners exist is the server's to know, not this machine's.
  const parsed = await loadWorkflow(path, options.job ? { jobs: options.job } : {});
  if (parsed.diagnostics.length > 0)
    process.stderr.write(`${formatDiagnostics(path, parsed.source, parsed.diagnostics)}\n`);
  if (!parsed.workflow) return ExitCode.invalid;
  const localActions: LoadedLocalAction[] = [];
  const actionProblems = localActionProblems(parsed.workflow, workspace, localActions);
  if (actionProblems !== '') {
    process.stderr.write(`${actionProblems}\n`);
    return ExitCode.invalid;
  }
  // Checked here too, so that a wrong job id, matrix filter, input or event is refused before the
  // workspace is uploaded.
  const selected = selectedWorkflow(parsed.workflow, options.job, path);
  filteredWorkflow(selected, options.matrix, (note) => process.stderr.write(`valkyrie: ${note}\n`));
  const event = chooseEvent(
    parsed.workflow.triggers,
    options.event,
    Object.keys(options.input ?? {}).length > 0,
  );
  if ('problem' in event) throw new UsageError(event.problem);
  runInputs(selected.inputs, event.event, options.input ?? {}, inputFlagHint);
  const inputsNote =
    options.event === undefined
      ? inputlessEventNote(selected.inputs, parsed.workflow.triggers, event.event)
      : undefined;
  if (inputsNote !== undefined) process.stderr.write(`valkyrie: ${inputsNote}\n`);
  const secrets = checkedSecrets(options);
  const vars = newRunVars(options.var);
  warnIfCleartext(api.server);

  if (options.bundle !== false && options.workspace === undefined) warnIfSubdirectory(workspace);
  let signals: InterruptSignals | undefined;
  try {
    // Read before the bundle is made and uploaded, which may take minutes: a commit meanwhile would
    // give the run another sha than the bundle's .git, made right after this.
    const git = submittedGitContext(workspace, event.event, (line) => process.stderr.write(`${line}\n`));
    const bundle =
      options.bundle === false
        ? undefined
        : await interruptibleUpload(
            client,
            workspace,
            { maxBytes, gitDir: options.gitDir !== false, localActions },
            progress,
          );
    if (typeof bundle === 'number') return bundle;
    // From the request that starts the run on: a signal while it is out cancels the run it starts.
    signals = options.follow ? followSignals() : undefined;
    const { run, created } = await createRunWithGit(
      client,
      {
        workflow: parsed.source,
        path: submittedPath(workspace, resolve(cwd, path)),
        bundle: bundle?.sha256,
        vars,
        ...(options.input === undefined ? {} : { inputs: options.input }),
        secrets,
        env: options.env ?? {},
        priority: queue.priority,
        ...(options.job === undefined ? {} : { jobs: options.job }),
        ...(options.matrix === undefined ? {} : { matrix: options.matrix }),
        ...(options.event === undefined ? {} : { event: options.event }),
        ...(git === undefined ? {} : { git }),
      },
      queue.idempotency?.key,
      (line) => process.stderr.write(`${line}\n`),
      submitFieldFlags(options, secrets),
    );
    const lost = await report(run, created, bundle, options, client, queue.idempotency?.key);
    // --follow tells it from the run's events.
    if (!options.follow) warnWaiting(run);
    if (signals !== undefined)
      return await followRun(
        client,
        run.id,
        { ...options, reconnectTimeoutMs, silenceLimitMs, command: 'valkyrie submit --follow' },
        signals,
      );
    const code =
      created || run.status === 'succeeded' || !isFinishedRunStatus(run.status)
        ? ExitCode.succeeded
        : ExitCode.jobFailed;
    return lost === undefined ? code : lostOutputExitCode(lost, code);
  } catch (error) {
    const code = reportServerFailure(error, { path, source: parsed.source });
    if (code === undefined) throw error;
    return code;
  } finally {
    signals?.close();
  }
}

/**
 * The fields of the run request that submit's flags filled, so that a refusal names the flag and the
 * value typed (`--matrix os=…: must be at most 1000 characters long`), not `body.matrix.os.1`.
 */
function submitFieldFlags(
  options: SubmitCommandOptions,
  secrets: Readonly<Record<string, string>>,
): FieldFlags {
  return {
    ...listFlag('body.jobs', '--job', options.job),
    ...keyedListFlag('body.matrix', '--matrix', options.matrix),
    ...pairFlag('body.inputs', '--input', options.input),
    ...pairFlag('body.vars', '--var', options.var),
    ...pairFlag('body.env', '--env', options.env),
    ...secretFlags(secrets, options),
    ...onceFlag('body.event', '--event', options.event),
    ...onceFlag('body.priority', '--priority', options.priority),
    ...onceFlag('headers.idempotency-key', '--idempotency-key', options.idempotencyKey),
  };
}

function parseReconnectTimeout(value: string | undefined): number {
  if (value === undefined) return defaultReconnectTimeoutMs;
  const ms = parseDuration(value);
  if (ms === undefined)
    throw new UsageError(`--reconnect-timeout takes ${durationHint}, received ${JSON.stringify(value)}`);
  return ms;
}

/**
 * Says which run the submission made (or found, for an idempotency key used before): on stdout
 * without --follow, the line a script reads the run's id from. When that write fails (`> /dev/full`,
 * a reader gone), the run is still the server's and goes on, as when --follow loses its output
 * (follow-run.ts): stderr names it and how to follow it, and the loss is returned for the exit code
 * (74, or 141) that any lost output gets (closed-output.ts).
 */
async function report(
  run: ApiRun,
  created: boolean,
  bundle: BundleReport | undefined,
  options: SubmitCommandOptions,
  client: ServerClient,
  /** As read from --idempotency-key: `"abc"` is the key abc. */
  idempotencyKey: string | undefined,
): Promise<OutputLoss | undefined> {
  const key = idempotencyKey ?? '';
  const followHint = `valkyrie logs ${shellWord(run.id)} -f${sameServerFlags(options, client.server)}`;
  const lines = [
    created
      ? `Submitted ${runHeading(run, 'run')} to ${client.origin}`
      : `${runHeading(run)} was already submitted with idempotency key ` +
        `${JSON.stringify(key)}; its status is ${run.status}. Nothing new was started.`,
  ];
  // As `gh workflow run` points to `gh run list`: how to watch a run this command does not follow.
  if (!options.follow && !options.json && !isFinishedRunStatus(run.status))
    lines.push(`Follow it with: ${followHint}`);
  // With --follow, stdout belongs to the run's view (NDJSON with --json), as for `valkyrie run`.
  const text = lines.map((line) => `${line}\n`).join('');
  let stdout = '';
  if (options.follow || !created) process.stderr.write(text);
  else if (!options.json) stdout = text;
  if (options.json && !options.follow) {
    const type = created ? 'run.submitted' : 'run.duplicate';
    const fields = {
      type,
      runId: run.id,
      runNumber: run.runNumber,
      workflow: run.workflowName,
      status: run.status,
    };
    stdout = `${JSON.stringify(bundle ? { ...fields, bundle } : fields)}\n`;
  }
  if (stdout === '') return undefined;
  const lost = await writeOrLoss('stdout', stdout);
  if (lost !== undefined)
    process.stderr.write(
      `valkyrie: ${lostOutputWords(lost)}, which lost the line naming the run: ${runHeading(run, 'run')} ${created ? 'is submitted all the same' : 'is the run already submitted with that idempotency key'}; follow it with: ${followHint}\n`,
    );
  return lost;
}

/** The token and any secrets travel with every request: say so when that is in the clear. */
function warnIfCleartext(server: string): void {
  const url = new URL(server);
  const loopback =
    ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || url.hostname.startsWith('127.');
  if (url.protocol === 'http:' && !loopback)
    process.stderr.write(
      `valkyrie: warning: ${url.origin} is plain HTTP; the token and any secrets are sent unencrypted\n`,
    );
}

function parseMaxBundleSize(value: string | undefined): number {
  if (value === undefined) return defaultMaxBundleBytes;
  const bytes = parseByteSize(value);
  if (bytes === undefined)
    throw new UsageError(
      `--max-bundle-size must be a size like 500MiB or 2GiB, received ${JSON.stringify(value)}`,
    );
  return bytes;
}

/**
 * The current directory is the workspace sent, also when it is a subdirectory of a git work tree
 * (documented, as for `valkyrie run`); a user who expects the whole repository, as GitHub's checkout
 * gives, is told which folder goes and how to send the repository instead. The repository is the
 * one the run's git context is read from (submittedGitContext), so the two never disagree; the
 * bundle's `.git` is made only at the top (snapshotGitHead), so the jobs can run no git here.
 */
function warnIfSubdirectory(workspace: string): void {
  const top = gitWorkTreeTop(workspace);
  if (top === undefined || top === realpathSync(workspace)) return;
  process.stderr.write(
    `valkyrie: note: the workspace sent is ${workspace}, a folder inside the git repository ${top}; its jobs see only that folder, with no .git (github.sha and github.ref are still the repository's). To send the whole repository, run submit from ${top} or pass --workspace ${top}\n`,
  );
}

/** A missing workspace, or a file, is the user's to fix: one line and exit 2, before the server is asked. */
function requireFolder(workspace: string, given: string | undefined): void {
  if (given === undefined) return;
  let isFolder: boolean;
  try {
    isFolder = statSync(workspace).isDirectory();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const missing = code === 'ENOENT' || code === 'ENOTDIR';
    throw new UsageError(
      `--workspace: ${JSON.stringify(given)} ${missing ? 'does not exist' : `cannot be read (${code ?? String(error)})`}`,
    );
  }
  if (!isFolder) throw new UsageError(`--workspace: ${JSON.stringify(given)} is not a folder`);
}

/**
 * The workflow's path as the run records it: relative to the workspace it bundles when it is in it,
 * which is where runners find it in the unpacked bundle (to place a step's expression error at its
 * line); relative to the current directory otherwise.
 */
function submittedPath(workspace: string, file: string): string {
  const inWorkspace = relative(workspace, file);
  return isWorkspacePath(inWorkspace) ? inWorkspace : relative(process.cwd(), file);
}
