import type { FleetRunnerView, RunnerDirectory } from './runner-directory.js';
import type { RunView } from './schemas.js';

/** At most this many are named per job: enough to say where to look, not the whole fleet. */
const namedAtMost = 5;

type RunnerElsewhere = NonNullable<RunView['jobs'][number]['runnersElsewhere']>[number];

/**
 * Names, for each job of `view` that waits for a runner with its labels, the runners connected to
 * another replica that would take it: a run's jobs are offered only to runners connected to the
 * replica that drives it (docs/server.md), so without this a submitter reads "no connected runner has
 * it" while the runner list shows one. The directory is read only when some job waits.
 */
export async function withRunnersElsewhere(
  view: RunView,
  directory: Pick<RunnerDirectory, 'list' | 'replica'>,
): Promise<RunView> {
  if (!view.jobs.some(waitsForAnyRunner)) return view;
  let listed: FleetRunnerView[];
  try {
    listed = await directory.list();
  } catch {
    // A hint only: a submit whose run exists must not answer an error (a retry would submit again).
    return view;
  }
  const others = listed.filter(
    (runner) => runner.connected && runner.mode === 'online' && runner.replica !== directory.replica,
  );
  if (others.length === 0) return view;
  return {
    ...view,
    jobs: view.jobs.map((job) => {
      if (!waitsForAnyRunner(job)) return job;
      const elsewhere = others.filter((runner) => hasAll(runner, job.noRunnerWith)).slice(0, namedAtMost);
      return elsewhere.length === 0 ? job : { ...job, runnersElsewhere: elsewhere.map(nameAndReplica) };
    }),
  };
}

type WaitingJobView = RunView['jobs'][number] & { readonly noRunnerWith: string[] };

/** Waits for a runner with its labels, none of this replica's having them (not: drained here). */
function waitsForAnyRunner(job: RunView['jobs'][number]): job is WaitingJobView {
  return job.noRunnerWith !== undefined && job.setAside === undefined;
}

/** Labels match whatever their case, as the dispatcher matches them. */
function hasAll(runner: FleetRunnerView, labels: readonly string[]): boolean {
  const has = new Set(runner.labels.map((label) => label.toLowerCase()));
  return labels.every((label) => has.has(label.toLowerCase()));
}

function nameAndReplica(runner: FleetRunnerView): RunnerElsewhere {
  return { id: runner.id, name: runner.name, replica: runner.replica ?? 'unknown' };
}
