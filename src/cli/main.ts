import { Command, CommanderError, Option } from 'commander';
import { isValkyrieError } from '../core/errors.js';
import { runStatuses } from '../core/outcome.js';
import { ExitCode, exitCodeFor, UsageError } from './exit-codes.js';
import { addFleetAdminCommands } from './fleet-admin-commands.js';
import { addRunnerCommand, addServerCommand } from './fleet-process-commands.js';
import { collectPair } from './key-values.js';
import {
  clientOptions,
  collectLabels,
  collectList,
  db,
  jobSelection,
  matrixSelection,
  numberOption,
  stateDir,
} from './shared-options.js';
import { usageRefusal } from './validate-refusal.js';

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('valkyrie')
    .description(
      'Valkyrie: a fast, self-hosted job runner for CI pipelines and workflows (GitHub Actions syntax).',
    )
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nExit codes: 0 run succeeded, 1 a job failed, 2 invalid workflow or usage (nothing ran), 65 state store unusable (damaged, or from a newer Valkyrie), 69 store or server unavailable (unreachable, also in the middle of a run, locked, its disk full, or a broken-off stream), 75 queue full (nothing submitted or re-run), 77 token refused by the server, 130 interrupted or cancelled (Ctrl-C, valkyrie cancel, its concurrency group, or taken over by valkyrie resume --force; 143 on SIGTERM), 141 stdout or stderr closed before the end (| head; any command, unless it failed: its own code wins; run, resume and rerun cancel their run as Ctrl-C does), 74 likewise for stdout or stderr that could not be written (> a full disk: ENOSPC; one line on stderr says so).',
    );
  const readExitCodes =
    'Exit codes: 0 shown, 2 unknown run or job (or usage), 65 state store unusable, 69 store or server unavailable, 77 token refused, 141 output closed early (| head), 74 output not writable (> a full disk).';
  const serverRunsHelp =
    "\nWith --server (or VALKYRIE_SERVER): the server's runs, through its API (a read token is enough).";
  /** `resume`'s and a local `rerun`'s exit codes (run-exit.ts; a refusal is VK_RUN_NOT_* or a UsageError). */
  const continuingExitCodes = (refused: string): string =>
    `\nExit codes: 0 run succeeded, 1 a job failed, 2 usage, an unknown run, or one refused (${refused}),\n` +
    '65 state store unusable, 69 store unavailable (unreachable, locked, its disk full), 130 interrupted or\n' +
    'cancelled (Ctrl-C, valkyrie cancel, its concurrency group, or taken over by valkyrie resume --force;\n' +
    '143 on SIGTERM), 141 output closed early (| head), 74 output not writable (> a full disk).';
  /** The options of the commands that continue a stored run (`resume`, `rerun`). */
  const continuing = (command: Command): Command =>
    command
      .option(
        '-j, --jobs <n>',
        'run at most N jobs at once (default: as the run was started; a local run only)',
      )
      // Taken only to be refused with a reason: unknown, commander would suggest --jobs.
      .addOption(new Option('--job <ids>').hideHelp())
      .addOption(new Option('--matrix <key=value>').hideHelp())
      .option(
        '--secret <name=value>',
        'provide secrets.NAME again; secrets are never stored (repeatable)',
        collectPair('--secret'),
      )
      .option('--secrets-file <file>', 'read secrets from a dotenv file')
      .option('--json', 'print NDJSON events; the last line is the run summary')
      .option('--no-color', 'plain output')
      .addOption(stateDir())
      .addOption(db());

  program
    .command('run')
    .description('run a workflow on this machine')
    .argument(
      '[file]',
      'workflow file; a bare name not in this folder (ci.yml) is looked for in .valkyrie/workflows/ and .github/workflows/ (default: the one file in .valkyrie/workflows/, else .github/workflows/)',
    )
    .option('-j, --jobs <n>', 'run at most N jobs at once (default: CPU count)')
    .addOption(jobSelection())
    .addOption(matrixSelection())
    .option('--secret <name=value>', 'provide secrets.NAME (repeatable)', collectPair('--secret'))
    .option('--secrets-file <file>', 'read secrets from a dotenv file')
    .option('--env <name=value>', 'set a workflow-level env variable (repeatable)', collectPair('--env'))
    .option('--var <name=value>', 'provide vars.NAME (repeatable)', collectPair('--var'))
    .option(
      '--input <name=value>',
      "provide inputs.NAME, one of the workflow's on.workflow_dispatch.inputs or on.workflow_call.inputs (repeatable)",
      collectPair('--input'),
    )
    .option(
      '--event <name>',
      "the event the run starts as (github.event_name), one of the workflow's on: (default: workflow_dispatch with --input or when it is the only one, else workflow_call with --input, else push, else the first); a run started as another event than those two has no inputs, defaults included, as on GitHub",
    )
    .option(
      '--label <labels>',
      'extra runner labels of this machine, comma-separated, each without spaces or control characters (repeatable)',
      collectLabels,
    )
    .option('--json', 'print NDJSON events; the last line is the run summary')
    .option('--no-color', 'plain output')
    .option(
      '--priority <p>',
      "queue priority of the run's jobs: critical, high, normal, low, background (a job's own priority: wins; default: the workflow's priority:, else normal)",
    )
    .option(
      '--not-before <time>',
      'start no job before this time: an ISO 8601 timestamp (2026-05-01T12:00:00Z) or a duration from now (30s, 5m)',
    )
    .option(
      '--aging-interval <duration>',
      'a waiting job ranks one priority higher per interval, so nothing starves (default: 60s)',
    )
    .option(
      '--queue-capacity <n>',
      "refuse the run (exit 75, VK_QUEUE_FULL; exit 2 if it alone has more than N jobs) if the store's unfinished jobs plus its own would exceed N (default: 10000)",
    )
    .option(
      '--idempotency-key <key>',
      'if a run with this key was submitted within the window, report it instead of starting another; the key with another request (workflow file, --var, --input, --env, --event, --job, --matrix, --priority, secret names) exits 2 (VK_IDEMPOTENCY_CONFLICT). A key in double quotes (\'"abc"\') is the key abc, as the server reads its Idempotency-Key header',
    )
    .option('--idempotency-window <duration>', 'how long an idempotency key holds (default: 24h)')
    .addOption(stateDir())
    .addOption(db())
    .action(async (file: string | undefined, options) => {
      const { runCommand } = await import('./commands/run.js');
      setExit(await runCommand(file, options));
    });

  program
    .command('submit')
    .description('send a workflow and the workspace to a Valkyrie server; --follow to watch it run')
    .argument(
      '[file]',
      'workflow file; a bare name not in this folder (ci.yml) is looked for in .valkyrie/workflows/ and .github/workflows/ (default: the one file in .valkyrie/workflows/, else .github/workflows/)',
    )
    .option('--server <url>', 'the server, e.g. http://ci.example:7070 (default: $VALKYRIE_SERVER)')
    .option('--token <token>', 'an API token with the submit role (default: $VALKYRIE_TOKEN)')
    .option('-f, --follow', "show the run's progress until it ends, and exit with its result as `run` does")
    .addOption(jobSelection())
    .addOption(matrixSelection())
    .option('--json', 'print NDJSON: the run.submitted line, or with --follow the events as `run --json`')
    .option('--no-color', 'plain output')
    .option('--secret <name=value>', 'provide secrets.NAME (repeatable)', collectPair('--secret'))
    .option('--secrets-file <file>', 'read secrets from a dotenv file')
    .option('--env <name=value>', 'set a workflow-level env variable (repeatable)', collectPair('--env'))
    .option('--var <name=value>', 'provide vars.NAME (repeatable)', collectPair('--var'))
    .option(
      '--input <name=value>',
      "provide inputs.NAME, one of the workflow's on.workflow_dispatch.inputs or on.workflow_call.inputs (repeatable)",
      collectPair('--input'),
    )
    .option('--event <name>', 'the event the run starts as (github.event_name), as for valkyrie run')
    .option('--priority <p>', "queue priority of the run's jobs: critical, high, normal, low, background")
    .option(
      '--idempotency-key <key>',
      'if the server has a run submitted with this key, report (or --follow) it instead of starting another; a key in double quotes (\'"abc"\') is the key abc, as the server reads its Idempotency-Key header',
    )
    .option('--workspace <dir>', 'the folder to bundle (default: the current directory)')
    .option('--no-bundle', 'send no workspace: jobs start in an empty directory')
    .option('--no-git-dir', "leave out the .git of HEAD's commit that a git repository's bundle carries")
    .option('--max-bundle-size <size>', 'refuse to bundle more than this, e.g. 500MiB (default: 1GiB)')
    .option(
      '--reconnect-timeout <duration>',
      'with --follow: how long to keep reconnecting when the event stream drops (default: 2m)',
    )
    .addHelpText(
      'after',
      '\nThe bundle holds the git-tracked and new unignored files in a git repository, else every file but\n' +
        '.valkyrie/, .git/, node_modules/ and .gitignore matches; .valkyrieignore leaves out more (docs/submit.md).\n' +
        "From the top of a git repository it also holds a .git of HEAD's commit, one commit deep, as\n" +
        'actions/checkout leaves one, so jobs can run git (--no-git-dir leaves it out).\n' +
        'It is uploaded only when the server does not have its sha256 yet. From 8 MiB or 5000 files, stderr\n' +
        'also says when packing and uploading start and how far each is (a live line on a terminal;\n' +
        'otherwise a plain line each tenth of the way, at most every 5s and at least every 30s).\n\n' +
        'Exit codes: 0 submitted (with --follow: the run succeeded), 1 a job failed, 2 invalid workflow or usage\n' +
        '(nothing sent) or a run larger than the whole queue, 69 server unreachable or failing (a restarting\n' +
        'one is waited for, up to 30s), 75 queue full (try again later), 77 token refused, 130 cancelled or Ctrl-C\n' +
        '(with --follow, Ctrl-C or SIGTERM asks the server to cancel the run, naming the signal as its reason;\n' +
        '143 on SIGTERM), 141 stdout or stderr closed (| head -1): while packing or uploading, nothing submitted;\n' +
        'after, the run was submitted all the same (a failure keeps its own code; --follow stops following);\n' +
        '74 likewise for stdout or stderr that could not be written (> a full disk).\n' +
        'With --follow, a dropped event stream (a server replica died, a proxy cut it, or it sent nothing,\n' +
        'not even its 15s keep-alive, for 45s: a frozen server) is reconnected to the\n' +
        'same URL with backoff, resuming after the last event seen; 69 once --reconnect-timeout has passed\n' +
        'without getting it back.',
    )
    .action(async (file: string | undefined, options) => {
      const { submitCommand } = await import('./commands/submit.js');
      setExit(await submitCommand(file, options));
    });

  continuing(program.command('resume'))
    .description(
      'continue a run whose valkyrie process died: finished jobs stay, interrupted ones follow on-runner-lost',
    )
    .argument('<run>', 'run id (see valkyrie runs)')
    .option('--force', 'resume even though the owner process still sends heartbeats')
    .addHelpText(
      'after',
      continuingExitCodes(
        'finished, its\nprocess alive without --force, submitted to a server, its workflow no longer parses, a secret missing',
      ),
    )
    .action(async (run: string, options) => {
      const { resumeCommand } = await import('./commands/resume.js');
      setExit(await resumeCommand(run, options));
    });

  clientOptions(continuing(program.command('rerun')))
    .option(
      '-f, --follow',
      'with --server: follow the run until it completes, and exit as valkyrie run would',
    )
    .option('--all', 'run every job again, not only the failed ones; a succeeded run too')
    .description(
      'run the failed jobs of a finished run again, and the jobs after them, as new attempts of the same jobs',
    )
    .argument(
      '<run>',
      'run id of a failed or cancelled run, or with --all any finished run (see valkyrie runs)',
    )
    .addHelpText(
      'after',
      '\nLike GitHub\'s "Re-run failed jobs": failed, timed-out and cancelled jobs run again with the same\n' +
        'workflow text and inputs the run was started with; jobs that need them are planned again (their if:\n' +
        'and matrix see the new results); every other job keeps its result and outputs. Earlier attempts keep\n' +
        'their logs (valkyrie show lists them). With --all, like "Re-run all jobs": every job runs again.\n' +
        `${continuingExitCodes('not finished,\nsucceeded without --all, its workspace bundle removed, its workflow no longer parses, a secret missing')}\n\n` +
        '--secret and --secrets-file give again the secrets the run was started with, which are never stored. Their\n' +
        'names are checked as valkyrie run and submit check them (exit 2 before the run is touched or the server asked);\n' +
        'a secret the run was not started with reaches its jobs too, as valkyrie run gives one no step uses.\n\n' +
        'With --server (or VALKYRIE_SERVER) the run is one of that server (POST /api/v1/runs/:id/rerun). Then: 0 accepted\n' +
        '(with --follow: 0 succeeded, 1 a job failed, 130 cancelled or Ctrl-C, 143 on SIGTERM), 2 refused (also when\n' +
        'the jobs it runs again are more than the whole --queue-capacity), 69 server unreachable or failing,\n' +
        '75 queue full (nothing re-run; try again later), 77 token refused. --json without --follow\n' +
        'prints one line: {"type":"run.rerun","runId":…,"runNumber":…,"workflow":…,"status":…,"attempt":…}.',
    )
    .action(async (run: string, options) => {
      const { rerunCommand } = await import('./commands/resume.js');
      setExit(await rerunCommand(run, options));
    });

  program
    .command('validate')
    .description('parse and plan a workflow without running it; print the job graph')
    .argument(
      '[file]',
      'workflow file; a bare name not in this folder is looked for in .valkyrie/workflows/ and .github/workflows/ (default: the one file in .valkyrie/workflows/, else .github/workflows/, as run)',
    )
    .option(
      '--label <labels>',
      'extra runner labels of this machine, comma-separated, each without spaces or control characters (repeatable)',
      collectLabels,
    )
    .option(
      '--json',
      'print the job graph as JSON; for a refused file, a local action that cannot run or a usage error, {"diagnostics": [{file, line, col, severity, message}]} (README)',
    )
    .addOption(matrixSelection('check'))
    .addHelpText(
      'after',
      '\nExit codes: 0 valid, 2 invalid workflow, a local action that cannot run, or usage, 141 output closed early (| head), 74 output not writable (> a full disk).',
    )
    .action(async (file: string | undefined, options) => {
      const { validateCommand } = await import('./commands/validate.js');
      setExit(await validateCommand(file, options));
    });

  clientOptions(
    program
      .command('runs')
      .description('list past runs, newest first')
      .addOption(numberOption('-n, --limit <n>', 'how many', 20))
      .option(
        '--status <statuses>',
        `only runs in these statuses: ${runStatuses.join(', ')}, or interrupted (a local run whose process died: valkyrie resume RUN continues it); comma-separated or repeated`,
        collectList,
      )
      .option(
        '--workflow <name-or-file>',
        "only this workflow's runs: its name, its file's path (./ and an absolute path under this folder are taken as submit records it from here), or the file name (ci.yml)",
      )
      .option(
        '--json',
        "print the runs as the HTTP API's RunView (docs/server.md), as a server's are with --server",
      )
      .option('--no-color', 'plain output')
      .addOption(stateDir())
      .addOption(db()),
  )
    .addHelpText(
      'after',
      `${serverRunsHelp}\nExit codes: 0 listed (no runs too), 2 usage, 65 state store unusable, 69 store or server unavailable, 77 token refused, 141 output closed early (| head), 74 output not writable (> a full disk).`,
    )
    .action(async (options) => {
      const { runsCommand } = await import('./commands/history.js');
      setExit(await runsCommand(options));
    });

  clientOptions(
    program
      .command('show')
      .description(
        "show a run's jobs with their status, duration, attempts, steps and the fleet runner each ran on, and writes refused under a stale lease",
      )
      .argument('<run>', 'run id (see valkyrie runs)')
      .option(
        '--json',
        "print the run as the HTTP API's RunView (docs/server.md), as a server's is with --server",
      )
      .option('--no-color', 'plain output')
      .addOption(stateDir())
      .addOption(db()),
  )
    .addHelpText('after', `${serverRunsHelp}\n${readExitCodes}`)
    .action(async (run: string, options) => {
      const { showCommand } = await import('./commands/history.js');
      setExit(await showCommand(run, options));
    });

  clientOptions(
    program
      .command('logs')
      .description(
        "print a run's stored logs, or one job's: each step under a heading (▶ name) and followed by its outcome (✗ failed (exit code 3)), also a step that printed nothing; a heading per attempt of a job that ran more than once",
      )
      .argument('<run>', 'run id')
      .argument('[job]', 'job name, e.g. "test (alpha, fast)", or its key')
      .option(
        '--raw',
        "only the log's lines: the steps' output and the job's own lines (the runner it ran on, a cancel's reason); no headings, no outcomes; each line still prefixed [job] when the run has several jobs and no JOB is given (not with --follow)",
      )
      .option(
        '-f, --follow',
        "print the lines as they come, each prefixed with its job, until the run completes (a local one: as another valkyrie process runs it), then exit as valkyrie run would (0, 1, 130 cancelled or interrupted; with JOB, as a run of that job alone would, the summary telling that job's outcome, then the run's); Ctrl-C (130) or SIGTERM (143) only stops following",
      )
      .option('--no-color', 'plain output (colour appears only with --follow)')
      .addOption(stateDir())
      .addOption(db()),
  )
    .addHelpText('after', `${serverRunsHelp}\n${readExitCodes} With --follow: as valkyrie run.`)
    .action(async (run: string, job: string | undefined, options) => {
      const { logsCommand } = await import('./commands/history.js');
      setExit(await logsCommand(run, job, options));
    });

  clientOptions(
    program
      .command('cancel')
      .description('cancel a run: as Ctrl-C in the terminal running it, or, if its process is gone, at once')
      .argument('<run>', 'run id (see valkyrie runs)')
      .addOption(stateDir())
      .addOption(db()),
  )
    .addHelpText(
      'after',
      '\nWith --server (or VALKYRIE_SERVER) the run is one of that server, else of the local store. The process\n' +
        'running the run acts within a second: running steps are interrupted, if: always() jobs still run. A run\n' +
        'whose process died ends at once, its unfinished jobs cancelled (valkyrie rerun runs them again).\n' +
        'Exit codes: 0 cancellation started, 2 unknown or finished run, 65 state store unusable, 69 store or server unavailable, 77 token refused, 141 output closed early (| head), 74 output not writable (> a full disk).',
    )
    .action(async (run: string, options) => {
      const { cancelCommand } = await import('./commands/cancel.js');
      setExit(await cancelCommand(run, options));
    });

  addServerCommand(program, setExit);

  addFleetAdminCommands(program, setExit);

  addRunnerCommand(program, setExit);

  program
    .command('schema')
    .description("print the workflow file's JSON Schema (for editor completion)")
    .action(async () => {
      const { schemaCommand } = await import('./commands/schema.js');
      setExit(schemaCommand());
    });

  return program;
}

/** Runs the CLI and returns the exit code; user mistakes print one clear line, never a stack trace. */
export async function main(argv: readonly string[]): Promise<number> {
  let exitCode: number = ExitCode.succeeded;
  const program = buildProgram((code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    // `validate --json` lists it as a diagnostic on stdout too; commander wrote its own text already.
    const refused = (message: string) => {
      const answer = usageRefusal(argv, message);
      if (answer !== undefined) process.stdout.write(`${JSON.stringify(answer)}\n`);
    };
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return ExitCode.succeeded;
      refused(error.message.replace(/^error: /, ''));
      return ExitCode.invalid;
    }
    if (error instanceof UsageError || isValkyrieError(error)) {
      process.stderr.write(`valkyrie: ${error.message}\n`);
      refused(error.message);
      return error instanceof UsageError ? error.exitCode : exitCodeFor(error.code);
    }
    throw error;
  }
}
