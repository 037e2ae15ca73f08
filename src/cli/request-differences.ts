import { relative, resolve } from 'node:path';
import { defaultPriority } from '../core/priority.js';
import { requestFingerprint } from '../engine/request-fingerprint.js';
import type { RunRecord } from '../store/runs.js';
import type { Stores } from '../store/store.js';
import { parseWorkflow } from '../workflow/parse.js';
import { type LocalRunRequest, localRunFingerprint } from './run-fingerprint.js';

/**
 * What a `valkyrie run` refused for an idempotency key used for another request differs in from the
 * key's run, as the user gave it (`--var`, `--priority (high, was normal)`, …), so that "the same
 * command" run from elsewhere tells what made it another request. The key's run's request is rebuilt
 * from what the store kept for its resume (its workflow text, request and path), and trusted only
 * when its fingerprint is the one stored with the key: undefined when it cannot be rebuilt so (a run
 * of an earlier Valkyrie, a server's run), and the message then names every part that counts.
 */
export async function requestDifferences(
  stores: Stores,
  run: RunRecord,
  storedFingerprint: string,
  request: LocalRunRequest,
): Promise<string[] | undefined> {
  const resumable = await stores.recovery.getResumable(run.id).catch(() => undefined);
  if (resumable === undefined) return undefined;
  const stored = resumable.request;
  const earlier: LocalRunRequest = {
    source: resumable.source,
    workspace: stored.workspace,
    path: run.workflowPath,
    vars: stored.vars,
    inputs: stored.inputs ?? {},
    env: stored.envOverrides,
    secretNames: stored.secretNames,
    event: stored.event ?? '',
    ...(stored.selectedJobs === undefined ? {} : { jobs: stored.selectedJobs }),
    ...(stored.matrixFilter === undefined ? {} : { matrix: stored.matrixFilter }),
    priority:
      stored.priority ??
      parseWorkflow(resumable.source, run.workflowPath).workflow?.priority ??
      defaultPriority,
  };
  if (localRunFingerprint(earlier) !== storedFingerprint) return undefined;
  const same = (a: unknown, b: unknown) => requestFingerprint({ a }) === requestFingerprint({ a: b });
  const sorted = (names: readonly string[] | undefined) => names && [...new Set(names)].sort();
  const place = (r: LocalRunRequest) => relative(r.workspace, resolve(r.workspace, r.path));
  const out: string[] = [];
  if (place(request) !== place(earlier))
    out.push(`the workflow file's path (${place(request)}, was ${place(earlier)})`);
  if (request.source !== earlier.source) out.push("the workflow file's text");
  if (!same(request.vars, earlier.vars)) out.push('--var');
  if (!same(request.inputs, earlier.inputs)) out.push('--input');
  if (!same(request.env, earlier.env)) out.push('--env');
  if (!same(sorted(request.secretNames), sorted(earlier.secretNames))) out.push('--secret names');
  if (request.event !== earlier.event) out.push(`--event (${request.event}, was ${earlier.event})`);
  if (!same(sorted(request.jobs), sorted(earlier.jobs))) out.push('--job');
  if (localRunFingerprint({ ...request, matrix: earlier.matrix }) !== localRunFingerprint(request))
    out.push('--matrix');
  if (request.priority !== earlier.priority)
    out.push(`--priority (${request.priority}, was ${earlier.priority})`);
  return out.length === 0 ? undefined : out;
}
