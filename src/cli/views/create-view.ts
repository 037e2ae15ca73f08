import { movesCursor } from '../cursor-terminal.js';
import { colorChoice } from './color-choice.js';
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
  const choice = colorChoice(options.color);
  if (movesCursor(process.stdout))
    return new TtyView(
      out,
      colors(choice !== 'none'),
      () => process.stdout.columns || 80,
      () => process.stdout.rows || 24,
    );
  // Lines for a log file, a pipe or a dumb terminal: coloured only when FORCE_COLOR asks.
  return new LineView(out, colors(choice === 'forced'));
}
