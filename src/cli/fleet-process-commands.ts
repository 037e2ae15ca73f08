import { type Command, Option } from 'commander';
import { numberOption } from './shared-options.js';

/**
 * `valkyrie server` and `valkyrie runner`: the long-running processes of a fleet, with their options
 * and help. `setExit` receives the command's exit code, as in main.ts.
 */
export function addServerCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('server')
    .description(
      'run the control plane: the HTTP API under /api/v1 and the runner protocol (WebSocket and long-poll) on one port',
    )
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .addOption(numberOption('--port <n>', 'port to listen on (0: any free port)', 7070))
    .addOption(
      new Option(
        '--db <url-or-file>',
        'the store: postgres://USER@HOST/DB[?schema=NAME] (for several replicas; plus node-postgres parameters such as sslmode, others are refused) or a SQLite file (default: $VALKYRIE_DB, else DATA_DIR/valkyrie.db)',
      ),
    )
    .option(
      '--data-dir <dir>',
      'the default SQLite store and, on SQLite, workspace bundles; on SQLite one server per data directory, as per file (default: $VALKYRIE_DATA_DIR, else .valkyrie)',
    )
    .option('--tls-cert <file>', 'serve HTTPS (and wss://) with this PEM certificate; needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option(
      '--drain-timeout <duration>',
      'on SIGTERM/SIGINT/SIGHUP, how long running runs may finish before the server closes (0: not at all; jobs on runners run on and report after a restart, or to the replica they reconnect to, which takes their runs over at once); a second signal stops without draining, a third exits at once',
      '10s',
    )
    .option(
      '--body-timeout <duration>',
      'how long a request body (a bundle upload, a submitted workflow, a runner long-poll batch) may send nothing before it is given up, answered 408 and its connection closed; a slow upload that keeps moving is never cut off (at least 1s)',
      '60s',
    )
    .option(
      '--lease-ttl <duration>',
      'how long a job lease lasts without a renewal (at least 1s); a runner that stays away longer loses its jobs (on-runner-lost)',
      '60s',
    )
    .option('--offer-ttl <duration>', 'how long a runner has to accept an offered job (at least 1s)', '30s')
    .option(
      '--queue-capacity <n>',
      "refuse a submitted run whole, or a re-run (429 VK_QUEUE_FULL), if the store's unfinished jobs would exceed N (default: 10000)",
    )
    .option(
      '--max-takeovers <n>',
      'how many times in a row a run given up by its server after a store write failed is taken over and continued without a job finishing; the next such takeover ends it failed (a takeover after a crash or restart does not count) (default: 3)',
    )
    .option(
      '--runner-retention <duration>',
      'how long a runner not seen (it stopped, or lost its connection) stays listed as offline before it is forgotten, with its mode (e.g. 24h, 7d; at least 1m)',
      '24h',
    )
    .option(
      '--bundle-retention <duration>',
      'how long an uploaded workspace bundle nobody uses (uploads it, submits or re-runs a run with it, or fetches it for a job) is kept before a sweep removes it; one an unfinished run names is kept (e.g. 12h, 30d; at least 1m)',
      '7d',
    )
    .addHelpText(
      'after',
      '\nAt first start, the admin token is VALKYRIE_ADMIN_TOKEN, or one is generated and printed once to stderr\n' +
        '(revoked, said on stdout, and exit 74 should stderr fail to take it: the next start makes another).\n' +
        'SIGTERM, SIGINT or SIGHUP (its terminal closed) drains; a second stops without draining, a third exits\n' +
        'at once (143/130/129). Exit codes: 0 after\n' +
        'shutdown, 2 bad options, port in use or bad TLS files,\n' +
        '65 store unusable (a damaged SQLite file, or a store from a newer Valkyrie), 69 store unavailable (Postgres\n' +
        'does not answer, the SQLite file stays locked or its disk is full, or another server serves it or keeps\n' +
        'its bundles in the data directory: one server per SQLite file and per data directory, replicas need\n' +
        'Postgres; also a shutdown that gave up on a Postgres that stopped answering, 30 s into closing).',
    )
    .action(async (options) => {
      const { serverCommand } = await import('./commands/server.js');
      setExit(await serverCommand(options));
    });
}

export function addRunnerCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('runner')
    .description('run jobs for a Valkyrie server (control plane) on this machine')
    .option('--server <url>', 'the control plane, e.g. http://ci.example:7070 (default: $VALKYRIE_SERVER)')
    .option(
      '--token <token>',
      'a runner registration token (valkyrie token create --role runner); needed only the first time: once WORK_DIR/runner.json holds a credential for the server, it is ignored, with a line saying so once per token, none for the one it registered with (default: $VALKYRIE_TOKEN)',
    )
    .option(
      '--token-file <file>',
      "the registration token from a file instead, kept out of the runner's command line (which ps shows every user)",
    )
    .option(
      '--name <name>',
      'the name this runner is shown under (default: the name it registered under, else the host name, cut to 100 characters)',
    )
    .option(
      '--labels <labels>',
      'extra labels, comma-separated, e.g. gpu,region=eu (repeatable); self-hosted, os and arch labels are added, and the hosted labels of the OS (ubuntu-latest, …)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      '--no-hosted-labels',
      "leave out the OS's hosted labels (ubuntu-latest, ubuntu-24.04, …): jobs that run on ubuntu-latest are then not offered to this runner",
    )
    .option('--capacity <n>', 'run at most N jobs at once (default: 1)')
    .option(
      '--work-dir <dir>',
      'credentials (runner.json) and one directory per job, removed after it (default: ~/.valkyrie/runner); a leading ~/ is the home directory, also where no shell expands it (a systemd unit), as in every path flag',
    )
    .option(
      '--protocol <protocol>',
      'auto: WebSocket, falling back to HTTP long-poll and back; ws or http: that one only (default: auto)',
    )
    .option(
      '--max-log-size <size>',
      "a job's output kept in its log, e.g. 100MiB or 1GiB; past it the rest is left out, said in one line, and the job goes on (default: 100MiB)",
    )
    .option(
      '--job-started-hook <file>',
      "a bash script run before every job, in its directory with the job's GITHUB_* variables; its output goes to the job's log, and when it fails so does the job, before any step (default: $VALKYRIE_RUNNER_HOOK_JOB_STARTED)",
    )
    .option(
      '--job-completed-hook <file>',
      "a bash script run after every job, cancelled ones too (not after one the runner's own shutdown cancelled, as on GitHub); when it fails so does the job (default: $VALKYRIE_RUNNER_HOOK_JOB_COMPLETED)",
    )
    .option(
      '--ephemeral',
      "take one job, then stop as on SIGTERM once it ends (exit 0, whatever the job's outcome): a fresh runner per job, as GitHub's ephemeral runners; not with --capacity above 1",
    )
    .option(
      '--idle-timeout <duration>',
      "stop as on SIGTERM (exit 0) once no job has run for this long, e.g. 10m (at least 1s), as Buildkite's --disconnect-after-idle-timeout",
    )
    .addHelpText(
      'after',
      '\nThe first start registers with --token or --token-file and keeps the credential in WORK_DIR/runner.json (mode 0600);\n' +
        'later starts reuse it. SIGTERM, Ctrl-C or SIGHUP (its terminal closed) drains: no new jobs, running\n' +
        'ones finish (so does one whose offer it had just accepted, if its lease comes within 5s; the line it\n' +
        'prints says what it waits for), then it deregisters (listed as stopped at once; mode and credential\n' +
        'kept) and exits 0.\n' +
        'A second signal cancels the running jobs, stopping each running step even under if: always() and\n' +
        'skipping the steps after it and the job-completed hook (exit 143 for SIGTERM, 130 for Ctrl-C, 129 for\n' +
        'SIGHUP); a third kills them.\n' +
        'Exit 2: bad arguments, or the server refused the token or credential. Exit 1: the server ended\n' +
        'the session for good (another process registered as this runner, or a protocol error); running\n' +
        'jobs are killed, and the server requeues them. A lost connection is retried, not an exit.\n' +
        'One runner process per work dir: it holds WORK_DIR/runner.lock while it runs. Exit 73: another live\n' +
        'runner holds it (its pid is printed); nothing in the dir was touched. A lock whose process is gone is\n' +
        'taken over.\n' +
        "Exit 78: the https server's TLS certificate failed verification (self-signed or unknown CA, expired,\n" +
        'another host name); one line says which and why. Not retried: it is configuration, not the network.\n' +
        'A server with a private CA or a self-signed certificate: start the runner with\n' +
        'NODE_EXTRA_CA_CERTS=/path/to/ca.pem (PEM, one or more certificates; Node reads it at process start and\n' +
        'trusts it besides its built-in CAs, for registration, WebSocket, long-poll and downloads).',
    )
    .action(async (options) => {
      const { runnerCommand } = await import('./commands/runner.js');
      setExit(await runnerCommand(options));
    });
}
