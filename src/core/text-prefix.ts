/**
 * The longest start of `text` of at most `max` UTF-16 code units that does not end in half a
 * surrogate pair (an emoji is kept whole or left out, never cut into a lone surrogate, which
 * UTF-8 cannot encode).
 */
export function textPrefix(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
