/**
 * Why `text` can never be sent as a token, or undefined when it can. A request carries its token as
 * the one word after `Bearer`, and an HTTP header carries only visible ASCII faithfully, so a space or
 * any other character would never arrive as given: the server could say only that the header was
 * malformed, or the request would fail before it was sent. The text itself is never shown.
 */
export function tokenTextProblem(text: string): string | undefined {
  const index = text.search(/[^\x21-\x7e]/);
  if (index === -1) return undefined;
  const found = /\s/.test(text.charAt(index))
    ? 'a space or other white space'
    : 'a character that is not visible ASCII';
  return `has ${found} at character ${index + 1}: a token must be one word of visible ASCII characters (! to ~), as it is sent in "Authorization: Bearer <token>"`;
}
