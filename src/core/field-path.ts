/**
 * A request field's path as the API's error answers name it (`body.matrix.os.1`): `where` and the keys
 * and indices under it, joined with dots. A segment with a control character (a record's key) is
 * quoted and escaped, so that the path prints as one line. The server names refused fields with it,
 * and the CLI finds the flag that filled a field (cli/field-flags.ts) by it.
 */
export function fieldPath(where: string, segments: readonly PropertyKey[]): string {
  const quoted = segments.map((segment) => {
    const text = String(segment);
    return /\p{Cc}/u.test(text) ? JSON.stringify(text) : text;
  });
  return [where, ...quoted].join('.');
}
