import { parseRetention, retentionHint } from '../core/duration.js';
import { UsageError } from './exit-codes.js';

/**
 * A retention flag's milliseconds (`valkyrie server --runner-retention`, `--bundle-retention`): days,
 * hours, minutes or any duration, at least a minute. Shorter, a runner would be forgotten after a few
 * missed heartbeats of its replica while it is still there, and a submit's touch of its bundle and the
 * run it stores could straddle a sweep's cut-off. A bad value is a usage error naming the flag.
 */
export function retentionFlag(flag: string, value: string): number {
  const ms = parseRetention(value);
  if (ms === undefined)
    throw new UsageError(`${flag}: expected ${retentionHint}, received ${JSON.stringify(value)}`);
  if (ms < 60_000) throw new UsageError(`${flag}: expected at least 1m, received ${JSON.stringify(value)}`);
  return ms;
}
