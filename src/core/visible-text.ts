const named: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from a file, a store or a server (a workflow's line, workflow, job, step, runner and token
 * names, reasons) as it is safe to print: control characters (C0, DEL, C1) escaped as `\n`, `\t`,
 * `\x1b`, … so that it cannot move the cursor, recolour or clear the terminal, or forge a line.
 */
export function visible(text: string): string {
  return text.replace(
    /\p{Cc}/gu,
    (char) => named[char] ?? `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/**
 * `text` in double quotes, safe to print (visible) and with its own `"` and `\` escaped, so that where
 * it ends is unambiguous inside a line: `step "Run echo \"n=3\"" failed`, not `step "Run echo "n=3"" failed`.
 */
export function quotedVisible(text: string): string {
  return `"${visible(text.replace(/["\\]/g, '\\$&'))}"`;
}
