import type { RunOwner } from '../store/recovery.js';
import type { RunnerDirectory } from './runner-directory.js';

/**
 * The runners the fleet's list shows connected to a live replica other than this one and than
 * `owner`, the dead process whose run is being taken over. Such a runner left the dead replica and
 * registered with another one (a load balancer sends a runner's reconnect anywhere), which drives
 * none of the run's jobs: it refused the runner's resume of their leases, and the runner stopped
 * them. A takeover holds no lease for it (ControlPlane.continueRun's `runnersElsewhere`): the held
 * lease would keep its job `running` for a lease TTL that no runner will resume.
 */
export async function runnersConnectedElsewhere(
  directory: RunnerDirectory,
  owner: RunOwner,
): Promise<ReadonlySet<string>> {
  const dead = `${owner.host}/${owner.pid}`;
  const runners = await directory.list();
  return new Set(
    runners
      .filter(({ connected, replica }) => {
        if (!connected || replica === undefined || replica === directory.replica) return false;
        // A replica's name is HOST/PID, with a suffix for a second server in one process.
        return replica !== dead && !replica.startsWith(`${dead}.`);
      })
      .map(({ id }) => id),
  );
}
