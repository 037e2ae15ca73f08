import type { FleetRunnerView } from '../server/runner-directory.js';
import { UsageError } from './exit-codes.js';

/** The shortest start of an id taken for it, as git takes abbreviated commit ids. */
export const minIdPrefix = 4;

/**
 * The listed runner that `reference` names, as `docker` finds a container: its whole id first, then
 * its name, then the start of its id (at least minIdPrefix characters). A name several runners share,
 * or a start several ids share, is refused with their ids, so that no command reaches a runner by luck.
 * `whenNone` ends the message for a reference that names no runner.
 */
export function pickRunner(
  runners: readonly FleetRunnerView[],
  reference: string,
  whenNone = '',
): FleetRunnerView {
  if (reference.trim() === '')
    throw new UsageError(
      `a runner's id or name is needed (valkyrie runners list), received ${JSON.stringify(reference)}`,
    );
  const byId = runners.find((runner) => runner.id === reference);
  if (byId !== undefined) return byId;
  const named = runners.filter((runner) => runner.name === reference);
  if (named.length === 1 && named[0] !== undefined) return named[0];
  if (named.length > 1)
    throw new UsageError(
      `${named.length} runners are named ${JSON.stringify(reference)} (ids ${idList(named)}); give the id of the one meant`,
    );
  const started =
    reference.length >= minIdPrefix ? runners.filter((runner) => runner.id.startsWith(reference)) : [];
  if (started.length === 1 && started[0] !== undefined) return started[0];
  if (started.length > 1)
    throw new UsageError(
      `the ids of ${started.length} runners start with ${reference} (${idList(started)}); give more of the id`,
    );
  throw new UsageError(
    `no runner ${reference} is listed (valkyrie runners list): no runner has that id or name${reference.length < minIdPrefix ? ` (an id's start names a runner from ${minIdPrefix} characters on)` : ', nor an id starting with it'}${whenNone}`,
  );
}

function idList(runners: readonly FleetRunnerView[]): string {
  return runners.map((runner) => runner.id).join(', ');
}
