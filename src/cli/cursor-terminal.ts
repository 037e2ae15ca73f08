/**
 * Whether `out` is a terminal that understands cursor moves, for output redrawn in place (the live
 * view, a progress line): a TTY whose TERM is not `dumb` (Emacs' shell buffers, some CI consoles),
 * where those escapes would print as garbage.
 */
export function movesCursor(
  out: { readonly isTTY?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  return out.isTTY === true && env.TERM !== 'dumb';
}
