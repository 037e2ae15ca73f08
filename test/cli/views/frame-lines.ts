// biome-ignore lint/suspicious/noControlCharactersInRegex: the move up is an escape sequence.
const moveUp = /^\u001b\[(\d+)F/;

/**
 * The lines of one frame a TtyView wrote: after the move up over the last frame, each line ends
 * with an erase to its end, and the frame with an erase below it.
 */
export function frameLines(frame: string): string[] {
  const drawn = frame.replace(moveUp, '');
  return drawn.slice(0, drawn.lastIndexOf('\u001b[J')).split('\u001b[K\n').slice(0, -1);
}

/** How many rows the frame moved up before drawing: over the last frame (0 for the first). */
export function frameUp(frame: string): number {
  return Number(moveUp.exec(frame)?.[1] ?? 0);
}
