import { type Dropped, defaultMaxQueuedBytes } from '../protocol/long-poll/outgoing-queue.js';

/** Job attempts told about: forgotten all at once past this many, so a long-lived runner stays small. */
const maxTold = 1_000;

/**
 * A long-poll session's `onDropped` for a runner (runner-lanes.ts): says once per job attempt that
 * its lines are being dropped unsent, and why. Its log says how many are missing, where they were.
 */
export function unsentLinesWarning(warn: (line: string) => void): (dropped: Dropped) => void {
  const told = new Set<string>();
  return ({ group }) => {
    if (told.has(group)) return;
    if (told.size >= maxTold) told.clear();
    told.add(group);
    // The group is `<job id> <fencing token>` (runnerSendLane); a job id has no space.
    const jobId = group.split(' ')[0] ?? group;
    warn(
      `dropping log lines of job ${jobId} unsent: it prints faster than the server takes them, and ` +
        `more than ${defaultMaxQueuedBytes / 1024 / 1024} MiB wait to be sent; its log says how many are missing`,
    );
  };
}
