import type { FleetRunnerView } from '../../server/runner-directory.js';
import { ApiClient } from '../api-client.js';
import { ApiRequestError } from '../api-error-answer.js';
import type { ApiClientFlags } from '../client-flags.js';
import { ExitCode } from '../exit-codes.js';
import { pickRunner } from '../runner-reference.js';
import { withServerFailures } from '../server-failure.js';
import { isoSeconds, textTable } from '../views/text-table.js';

export interface RunnersListOptions extends ApiClientFlags {
  readonly json?: boolean;
}

/** `valkyrie runners list`: every runner that has connected to the fleet, newest state first as the server orders them. */
export function runnersListCommand(options: RunnersListOptions): Promise<number> {
  return withServerFailures('read', () => listRunners(options));
}

async function listRunners(options: RunnersListOptions): Promise<number> {
  const runners = await listedRunners(ApiClient.fromFlags(options));
  if (options.json) {
    process.stdout.write(`${JSON.stringify(runners)}\n`);
    return ExitCode.succeeded;
  }
  if (runners.length === 0) {
    process.stdout.write(
      "No runners: none is connected, or was seen within the server's runner retention.\n",
    );
    return ExitCode.succeeded;
  }
  // The notes last, and only when there is one: a long note would widen every line otherwise.
  const notes = runners.some((runner) => runner.modeNote !== undefined);
  const rows = runners.map((runner) => [
    runner.id,
    runner.name,
    // GitHub's words: an offline runner stays listed until the server's --runner-retention forgets it.
    // Buildkite's: one that said it was leaving is stopped, not lost.
    runner.connected ? 'online' : runner.stoppedAt === undefined ? 'offline' : 'stopped',
    runner.mode,
    `${runner.running}/${runner.capacity}`,
    runner.labels.join(','),
    runner.lastSeenAt === undefined ? '' : isoSeconds(runner.lastSeenAt),
    ...(notes ? [runner.modeNote ?? ''] : []),
  ]);
  const header = ['ID', 'NAME', 'STATUS', 'MODE', 'JOBS', 'LABELS', 'LAST SEEN', ...(notes ? ['NOTE'] : [])];
  process.stdout.write(textTable([header, ...rows]));
  return ExitCode.succeeded;
}

export type RunnerModeAction = 'drain' | 'resume' | 'maintenance';

export interface RunnerModeOptions extends ApiClientFlags {
  /** drain and maintenance: why, listed with the runner. */
  readonly note?: string;
}

const done: Record<RunnerModeAction, string> = {
  drain: 'is draining: it gets no new jobs, and its running jobs finish',
  maintenance: 'is in maintenance: it gets no new jobs, and its running jobs finish',
  resume: 'is online again',
};

/**
 * `valkyrie runners drain|resume|maintenance RUNNER` (an id, a name, or the start of an id: see
 * pickRunner): stored, so it reaches the runner on any replica.
 */
export function runnerModeCommand(
  action: RunnerModeAction,
  reference: string,
  options: RunnerModeOptions,
): Promise<number> {
  return withServerFailures('admin', async () => {
    const client = ApiClient.fromFlags(options);
    const picked = await runnerToChange(client, reference);
    const { runner } = await client.request<{ runner: FleetRunnerView }>(
      'POST',
      `/api/v1/runners/${encodeURIComponent(picked.id)}/${action}`,
      options.note === undefined ? undefined : { note: options.note },
      { 'body.note': '--note' },
    );
    const note = runner.modeNote === undefined ? '' : ` Note: ${runner.modeNote}`;
    process.stdout.write(
      `Runner ${runner.id} (${runner.name}) ${modeChangeText(action, picked, runner)}.${note}\n`,
    );
    return ExitCode.succeeded;
  });
}

/**
 * What the change did, as the runner was before it and is after: "online again" for one that was
 * online told the operator of a change that never was, and "its running jobs finish" of a stopped
 * runner of jobs it cannot have. A runner still draining after a resume drains on its own (SIGTERM on
 * its machine): the server cannot call that back, and "online again" said it would take jobs.
 */
function modeChangeText(action: RunnerModeAction, before: FleetRunnerView, after: FleetRunnerView): string {
  if (action === 'resume' && after.connected && after.mode === 'draining')
    return 'is stopping on its own machine (it was told to stop there, by SIGTERM or Ctrl-C), which resume cannot undo: it takes no new jobs, finishes its running ones and exits; start it again there to have it back';
  if (action === 'resume' && before.mode === 'online') return 'is online (it was already)';
  if (before.connected) return done[action];
  const state = before.stoppedAt === undefined ? 'offline' : 'stopped';
  const mode = action === 'resume' ? 'online' : action === 'drain' ? 'draining' : 'maintenance';
  return `is ${state}: it comes back ${mode}, as set now, when it connects again`;
}

/**
 * `valkyrie runners remove RUNNER`: takes a runner off the fleet by revoking its credential, as removing a
 * runner does on GitHub or Buildkite (docs/server.md, "Revoking a runner's credential"): it is
 * disconnected and exits, its jobs follow on-runner-lost at once, and its row goes. Only a listed
 * runner is taken (by id, name or the start of its id), so that a typo cannot revoke some other token.
 */
export function runnerRemoveCommand(reference: string, options: ApiClientFlags): Promise<number> {
  return withServerFailures('admin', async () => {
    const client = ApiClient.fromFlags(options);
    const runner = await runnerToChange(
      client,
      reference,
      '; nothing was revoked. Another token is revoked with valkyrie token revoke ID',
    );
    await client.request('DELETE', `/api/v1/tokens/${encodeURIComponent(runner.id)}`);
    process.stdout.write(
      `Removed runner ${runner.id} (${runner.name}): its credential is revoked, so it is disconnected and its jobs follow on-runner-lost.\n`,
    );
    return ExitCode.succeeded;
  });
}

/**
 * The listed runner that `reference` names, for a change only an admin token may make. A reference
 * pickRunner refuses is refused by role first, as the server orders its checks (docs/server.md): a
 * read or submit token exits 77 whether or not the runner is listed, as `token revoke` does whatever
 * the id. The role is asked of an admin-only route that changes nothing.
 */
async function runnerToChange(client: ApiClient, reference: string, whenNone = ''): Promise<FleetRunnerView> {
  const runners = await listedRunners(client);
  try {
    return pickRunner(runners, reference, whenNone);
  } catch (refused) {
    try {
      await client.request('GET', '/api/v1/tokens');
    } catch (asked) {
      // Only the role's answer is wanted: any other failure of the question leaves "not listed" to tell.
      if (asked instanceof ApiRequestError && (asked.status === 401 || asked.status === 403)) throw asked;
    }
    throw refused;
  }
}

async function listedRunners(client: ApiClient): Promise<FleetRunnerView[]> {
  return (await client.request<{ runners: FleetRunnerView[] }>('GET', '/api/v1/runners')).runners;
}
