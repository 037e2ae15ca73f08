import { ValkyrieError } from '../../core/errors.js';
import { asRunId } from '../../core/ids.js';
import { runLiveness, staleHeartbeatMs } from '../../engine/run-liveness.js';
import { ownerExited, thisProcess } from '../../engine/run-owner.js';
import { closeInterruptedSteps, endUnfinishedRun, whenLost } from '../../engine/run-ownership.js';
import { ApiClient } from '../api-client.js';
import { cancelRequester } from '../cancel-requester.js';
import { type ApiClientFlags, serverGiven } from '../client-flags.js';
import { ExitCode } from '../exit-codes.js';
import { noteRunNotInLocalStore } from '../local-store-note.js';
import { ServerClient } from '../server-client.js';
import { reportServerFailure } from '../server-failure.js';
import { openStores, stateDirectory } from '../state.js';

export interface CancelCommandOptions extends ApiClientFlags {
  readonly stateDir?: string;
  readonly db?: string;
}

/**
 * `valkyrie cancel RUN`: with a server (--server or VALKYRIE_SERVER), asks it to cancel the run; else
 * a run of the local store. A run whose process is alive gets a cancel request, which that process
 * acts on within a second (as Ctrl-C there would: running steps are interrupted, `if: always()` jobs
 * still run). A run whose process is gone (interrupted) is ended here: its unfinished jobs become
 * `cancelled`, and `valkyrie rerun` can run them again.
 */
export async function cancelCommand(id: string, options: CancelCommandOptions): Promise<number> {
  if (serverGiven(options)) {
    const client = new ServerClient(ApiClient.fromFlags(options));
    try {
      await client.cancelRun(id, cancelRequester());
    } catch (error) {
      const code = reportServerFailure(error);
      if (code === undefined) throw error;
      return code;
    }
    process.stderr.write(`Cancelling run ${id} on ${client.origin}.\n`);
    return ExitCode.succeeded;
  }
  const stores = await openStores(
    options.db,
    stateDirectory(options.stateDir, process.cwd(), { nearest: true }),
    {
      create: false,
    },
  );
  try {
    const run = await stores.runs.getRun(asRunId(id));
    if (!run) {
      noteRunNotInLocalStore(options, id);
      throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run ${JSON.stringify(id)}; see: valkyrie runs`);
    }
    const ownership = (await stores.recovery.ownerships([run.id])).get(run.id);
    const liveness = runLiveness(run.status, ownership, Date.now(), ownerExited);
    if (liveness.kind === 'finished')
      throw new ValkyrieError('VK_RUN_FINISHED', `run ${run.id} already finished (${run.status})`);
    // Nobody drives an interrupted run, nor one that never stored an owner and is older than a heartbeat
    // could be late (a run that has just started stores its owner a moment after it is created).
    const ownerless = liveness.kind === 'unowned' && Date.now() - run.createdAt > staleHeartbeatMs;
    if (liveness.kind === 'interrupted' || ownerless) {
      const claim = await stores.recovery.claim(run.id, ownership, {
        owner: thisProcess(),
        heartbeatAt: Date.now(),
      });
      if (claim.kind === 'claimed') {
        const now = Date.now();
        const jobs = await stores.runs.listJobs(run.id);
        // What was running stopped when its loss became evident (whenLost), not at this cancel.
        const lost = await whenLost(stores, run.id, jobs, ownership?.heartbeatAt ?? now, now);
        await closeInterruptedSteps(stores, jobs, now, lost);
        const ownerGone = liveness.kind === 'interrupted' && liveness.why === 'owner_exited';
        const reason = 'the run was cancelled after its process had stopped';
        await endUnfinishedRun(stores, run.id, now, { status: 'cancelled', reason }, ownerGone, lost.seen);
        process.stderr.write(`Run ${run.id} had been interrupted; its unfinished jobs are now cancelled.\n`);
        return ExitCode.succeeded;
      }
    }
    if (!(await stores.recovery.requestCancel(run.id, Date.now(), cancelRequester())))
      throw new ValkyrieError('VK_RUN_FINISHED', `run ${run.id} has finished meanwhile`);
    const by = ownership === undefined ? '' : ` (process ${ownership.owner.pid} on ${ownership.owner.host})`;
    process.stderr.write(`Asked the process running run ${run.id}${by} to cancel it.\n`);
    return ExitCode.succeeded;
  } finally {
    await stores.close();
  }
}
