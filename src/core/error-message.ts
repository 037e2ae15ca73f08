/** What a caught value says: an Error's message, anything else as text (a throw need not be an Error). */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A caught value as an Error, to reject or rethrow with: anything else becomes an Error of its text. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
