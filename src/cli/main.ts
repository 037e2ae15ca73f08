import { Command, CommanderError, Option } from 'commander';
import { isValkyrieError } from '../core/errors.js';
import { ExitCode, UsageError } from './exit-codes.js';
import { collectPair } from './key-values.js';

const collectList = (value: string, previous: string[] = []) => [
  ...previous,
  ...value.split(',').filter(Boolean),
];

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
      '\nExit codes: 0 run succeeded, 1 a job failed, 2 invalid workflow or usage (nothing ran), 75 queue full (nothing submitted), 130 interrupted or cancelled by its concurrency group (143 on SIGTERM).',
    );
  const stateDir = () =>
    new Option(
      '--state-dir <dir>',
      'local state: job directories and the default database (default: .valkyrie, or $VALKYRIE_STATE_DIR)',
    );
  const db = () =>
    new Option(
      '--db <url-or-file>',
      'the store: postgres://USER@HOST/DB[?schema=NAME] or a SQLite file (default: $VALKYRIE_DB, else STATE_DIR/valkyrie.db)',
    );

  program
    .command('run')
    .description('run a workflow on this machine')
    .argument(
      '[file]',
      'workflow file (default: the one file in .valkyrie/workflows/, else .github/workflows/)',
    )
    .option('-j, --jobs <n>', 'run at most N jobs at once (default: CPU count)')
    .option('--secret <name=value>', 'provide secrets.NAME (repeatable)', collectPair)
    .option('--secrets-file <file>', 'read secrets from a dotenv file')
    .option('--env <name=value>', 'set a workflow-level env variable (repeatable)', collectPair)
    .option('--var <name=value>', 'provide vars.NAME (repeatable)', collectPair)
    .option('--label <labels>', 'extra runner labels, comma-separated (repeatable)', collectList)
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
      "refuse the run (exit 75, VK_QUEUE_FULL) if the store's unfinished jobs plus its own would exceed N (default: 10000)",
    )
    .option(
      '--idempotency-key <key>',
      'if a run with this key was submitted within the window, report it instead of starting another',
    )
    .option('--idempotency-window <duration>', 'how long an idempotency key holds (default: 24h)')
    .addOption(stateDir())
    .addOption(db())
    .action(async (file: string | undefined, options) => {
      const { runCommand } = await import('./commands/run.js');
      setExit(await runCommand(file, options));
    });

  program
    .command('resume')
    .description(
      'continue a run whose valkyrie process died: finished jobs stay, interrupted ones follow on-runner-lost',
    )
    .argument('<run>', 'run id (see valkyrie runs)')
    .option('-j, --jobs <n>', 'run at most N jobs at once (default: as the run was started)')
    .option(
      '--secret <name=value>',
      'provide secrets.NAME again; secrets are never stored (repeatable)',
      collectPair,
    )
    .option('--secrets-file <file>', 'read secrets from a dotenv file')
    .option('--force', 'resume even though the owner process still sends heartbeats')
    .option('--json', 'print NDJSON events; the last line is the run summary')
    .option('--no-color', 'plain output')
    .addOption(stateDir())
    .addOption(db())
    .action(async (run: string, options) => {
      const { resumeCommand } = await import('./commands/resume.js');
      setExit(await resumeCommand(run, options));
    });

  program
    .command('validate')
    .description('parse and plan a workflow without running it; print the job graph')
    .argument('<file>', 'workflow file')
    .option('--label <labels>', 'extra runner labels, comma-separated', collectList)
    .option('--json', 'print the job graph as JSON')
    .action(async (file: string, options) => {
      const { validateCommand } = await import('./commands/validate.js');
      setExit(await validateCommand(file, options));
    });

  program
    .command('runs')
    .description('list past runs, newest first')
    .option('-n, --limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .addOption(stateDir())
    .addOption(db())
    .action(async (options) => {
      const { runsCommand } = await import('./commands/history.js');
      setExit(await runsCommand(options));
    });

  program
    .command('show')
    .description("show a run's jobs with their status, duration, attempts and steps")
    .argument('<run>', 'run id (see valkyrie runs)')
    .option('--json', 'print JSON')
    .addOption(stateDir())
    .addOption(db())
    .action(async (run: string, options) => {
      const { showCommand } = await import('./commands/history.js');
      setExit(await showCommand(run, options));
    });

  program
    .command('logs')
    .description("print a run's stored logs, or one job's, with a heading per retried attempt")
    .argument('<run>', 'run id')
    .argument('[job]', 'job name, e.g. "test (alpha, fast)", or its key')
    .addOption(stateDir())
    .addOption(db())
    .action(async (run: string, job: string | undefined, options) => {
      const { logsCommand } = await import('./commands/history.js');
      setExit(await logsCommand(run, job, options));
    });

  program
    .command('runner')
    .description('run jobs for a Valkyrie server (control plane) on this machine')
    .option('--server <url>', 'the control plane, e.g. http://ci.example:7070 (default: $VALKYRIE_SERVER)')
    .option(
      '--token <token>',
      'a runner registration token (valkyrie token create --role runner); needed only the first time (default: $VALKYRIE_TOKEN)',
    )
    .option('--name <name>', 'the name this runner is shown under (default: the host name)')
    .option(
      '--labels <labels>',
      'extra labels, comma-separated, e.g. gpu,region=eu (repeatable); os and arch labels are added',
      collectList,
    )
    .option('--capacity <n>', 'run at most N jobs at once (default: 1)')
    .option(
      '--work-dir <dir>',
      'credentials (runner.json) and one directory per job, removed after it (default: ~/.valkyrie/runner)',
    )
    .option(
      '--protocol <protocol>',
      'auto: WebSocket, falling back to HTTP long-poll and back; ws or http: that one only (default: auto)',
    )
    .addHelpText(
      'after',
      '\nThe first start registers with --token and keeps the credential in WORK_DIR/runner.json (mode 0600);\n' +
        'later starts reuse it. SIGTERM or Ctrl-C drains: no new jobs, running ones finish, exit 0. A second\n' +
        'signal cancels the running jobs (exit 143 for SIGTERM, 130 for Ctrl-C); a third kills them.\n' +
        'Exit 2: bad arguments, or the server refused the token or credential.',
    )
    .action(async (options) => {
      const { runnerCommand } = await import('./commands/runner.js');
      setExit(await runnerCommand(options));
    });

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
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.succeeded : ExitCode.invalid;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`valkyrie: ${error.message}\n`);
      return error.exitCode;
    }
    if (isValkyrieError(error)) {
      process.stderr.write(`valkyrie: ${error.message}\n`);
      return ExitCode.invalid;
    }
    throw error;
  }
}
