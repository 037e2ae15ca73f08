import { movesCursor } from '../cursor-terminal.js';
import { colors } from './format.js';
import { JsonView } from './json-view.js';
import { LineView } from './line-view.js';
import { TtyView } from './tty-view.js';
import type { Output, RunView } from './view.js';

/**
 * `--json`: NDJSON; on a terminal that moves its cursor (not TERM=dumb): the live view; otherwise one
 * line per log line, then a summary.
 */
export function createView(
  options: { readonly json?: boolean; readonly color?: boolean },
  out: Output,
): RunView {
  if (options.json) return new JsonView(out);
  const useColor =
    options.color !== false && process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  if (movesCursor(process.stdout))
    return new TtyView(
      out,
      colors(useColor),
      () => process.stdout.columns || 80,
      () => process.stdout.rows || 24,
    );
  return new LineView(out, colors(false));
}
