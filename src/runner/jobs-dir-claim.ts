import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readFailureText } from '../core/read-failure.js';
import { makeDirectorySync } from '../platform/make-directory.js';
import { removeTree } from './tree-removal.js';

/** A file in a runner's `<work-dir>/jobs` that marks the directory as the runner's own. */
export const jobsDirMarker = '.valkyrie-runner-jobs';

const markerText =
  'This directory holds the job directories of a valkyrie runner, which removes what else is here when it starts.\n';

/** Whether a runner may use `<work-dir>/jobs`, whose entries its start removes (sweepJobsDir). */
export type JobsDirClaim =
  /** `made`: what this claim created (the directory, the marker), outermost first. */
  | { readonly kind: 'claimed'; readonly made: readonly string[] }
  /** It holds `entry`, which no runner made: the work dir is someone's directory (`--work-dir ~`). */
  | { readonly kind: 'foreign'; readonly entry: string }
  | { readonly kind: 'unusable'; readonly why: string };

/**
 * Claims `jobsDir` for the runner before it registers or removes anything: one it marked before, one
 * that is empty or not there yet, or (`usedBefore`: the work dir held a runner.json before this start)
 * one a runner of before the marker made. Anything else was not made by a runner — a start would
 * have removed `~/jobs` of a runner given `--work-dir ~` — and is refused, untouched.
 */
export function claimJobsDir(jobsDir: string, usedBefore: boolean): JobsDirClaim {
  let entries: string[];
  try {
    entries = readdirSync(jobsDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') return { kind: 'foreign', entry: '(it is a file)' };
    if (code !== 'ENOENT') return { kind: 'unusable', why: readFailureText(error) };
    entries = [];
  }
  const [first] = entries;
  const marked = entries.includes(jobsDirMarker);
  if (!marked && first !== undefined && !usedBefore) return { kind: 'foreign', entry: first };
  const marker = join(jobsDir, jobsDirMarker);
  try {
    const made = makeDirectorySync(jobsDir, 0o700);
    writeFileSync(marker, markerText);
    return { kind: 'claimed', made: marked ? made : [...made, marker] };
  } catch (error) {
    return { kind: 'unusable', why: readFailureText(error) };
  }
}

/** Removes what a killed runner left in its claimed `jobsDir`, keeping the marker; never throws. */
export async function sweepJobsDir(jobsDir: string, warn: (line: string) => void): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(jobsDir);
  } catch {
    return;
  }
  for (const entry of entries) if (entry !== jobsDirMarker) await removeTree(join(jobsDir, entry), warn);
}
