import { ApiClient } from '../api-client.js';
import { ApiRequestError } from '../api-error-answer.js';
import type { ApiClientFlags } from '../client-flags.js';
import { ExitCode } from '../exit-codes.js';
import { secretFlags } from '../field-flags.js';
import { followRun, followSignals } from '../follow-run.js';
import { ServerClient } from '../server-client.js';
import { reportServerFailure } from '../server-failure.js';
import { streamSilenceLimitMs } from '../stream-silence.js';
import { warnWaiting } from '../waiting-job.js';

export interface ServerRerunOptions extends ApiClientFlags {
  /** What `--secrets-file`, then `--secret`, gave. */
  readonly secrets: Readonly<Record<string, string>>;
  readonly secret?: Readonly<Record<string, string>>;
  readonly secretsFile?: string;
  /** Every job, not only the failed ones. */
  readonly all?: boolean;
  readonly follow?: boolean;
  readonly json?: boolean;
  readonly color?: boolean;
}

/**
 * `valkyrie rerun RUN --server URL`: asks the server to re-run the run's failed jobs, or with `--all`
 * all of them (`POST /api/v1/runs/:id/rerun`); with --follow, renders the run until it completes and exits as
 * `valkyrie run` would. Exit codes otherwise: 0 accepted, 2 refused (not finished, nothing failed, a
 * secret missing, more jobs than the whole queue holds), 69 server unreachable, 75 queue full, 77 token
 * refused.
 */
export async function serverRerunCommand(id: string, options: ServerRerunOptions): Promise<number> {
  const client = new ServerClient(ApiClient.fromFlags(options));
  // Read before the re-run is asked for: a wrong value must not leave it started and unfollowed.
  const silenceLimitMs = options.follow ? streamSilenceLimitMs() : undefined;
  // From the request on: a signal while it is out cancels the re-run it starts (followSignals).
  const signals = options.follow ? followSignals() : undefined;
  try {
    const run = await client.rerunRun(
      id,
      options.secrets,
      options.all === true ? 'all' : 'failed',
      secretFlags(options.secrets, options),
    );
    const which = options.all === true ? 'all the jobs' : 'the failed jobs';
    process.stderr.write(`Re-running ${which} of run ${id} on ${client.origin}.\n`);
    if (signals !== undefined)
      return await followRun(
        client,
        id,
        { ...options, silenceLimitMs, command: 'valkyrie rerun --follow' },
        signals,
      );
    warnWaiting(run);
    // As `submit --json` prints its run.submitted line: a script learns what it started.
    if (options.json) {
      const { id: runId, runNumber, workflowName: workflow, status, attempt } = run;
      const line = { type: 'run.rerun', runId, runNumber, workflow, status, attempt };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    return ExitCode.succeeded;
  } catch (error) {
    if (error instanceof ApiRequestError && error.body.path === 'body.secrets') {
      process.stderr.write(`valkyrie: ${missingSecretsMessage(id, error)}\n`);
      return ExitCode.invalid;
    }
    const code = reportServerFailure(error);
    if (code === undefined) throw error;
    return code;
  } finally {
    signals?.close();
  }
}

/**
 * The server names the API's field (`body.secrets`) and, since it says which, the secrets missing
 * (`missingSecrets`); here the options that give them, as a local `valkyrie rerun` says it.
 */
function missingSecretsMessage(id: string, error: ApiRequestError): string {
  const listed = error.body.missingSecrets;
  const names = Array.isArray(listed) ? listed.filter((name) => typeof name === 'string') : [];
  const what = names.length > 0 ? `secrets ${names.join(', ')}` : 'secrets';
  const again =
    names.length > 0 ? names.map((name) => `--secret ${name}=…`).join(' ') : '--secret NAME=VALUE';
  return `run ${id} on the server was started with ${what}, which are not stored; pass them again: ${again} (or --secrets-file FILE)`;
}
