/**
 * The code and message of the first of `error` and its causes whose `code` `matches`, or undefined. Built-in fetch wraps a
 * socket's error as `TypeError: fetch failed` with the code on `cause`; node:https and `ws` put it on
 * the error itself. At most 8 deep: a cause that points back at its error would loop forever.
 */
export function causeWithCode(
  error: unknown,
  matches: (code: string) => boolean,
): { readonly code: string; readonly message: string } | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && matches(code)) return { code, message: current.message };
    current = current.cause;
  }
  return undefined;
}
