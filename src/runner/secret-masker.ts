import { secretEncodings } from './secret-encodings.js';

/**
 * Replaces every registered secret in a line with `***`. Secrets and `::add-mask::` values must never
 * reach the terminal, the store or outputs. Longer values are replaced first so that a secret that
 * contains another is masked whole. Each value, and each line of one, is masked also in the forms
 * GitHub masks (secret-encodings.ts: base64, JSON, URI, …).
 */
export class SecretMasker {
  private readonly values = new Set<string>();
  private ordered: string[] = [];

  add(value: string): void {
    const lines = [value, ...value.split(/\r?\n/)].map((v) => v.trim()).filter((v) => v.length > 0);
    let changed = false;
    for (const candidate of lines.flatMap((line) => [line, ...secretEncodings(line)])) {
      if (this.values.has(candidate)) continue;
      this.values.add(candidate);
      changed = true;
    }
    if (changed) this.ordered = [...this.values].sort((a, b) => b.length - a.length);
  }

  /**
   * Where to cut `text`, a line too long to hand on whole, at `limit` or before: never inside a
   * secret, and never after the start of what may be one (its first characters end the text so far),
   * or each piece would be masked alone and show its half of the secret. The line splitter asks.
   */
  cutBefore(text: string, limit: number): number {
    let cut = limit;
    for (const value of this.ordered) {
      for (let start = Math.max(1, limit - value.length + 1); start < cut; start++) {
        const seen = Math.min(value.length, text.length - start);
        if (text.startsWith(value.slice(0, seen), start)) {
          cut = start;
          break;
        }
      }
    }
    return cut;
  }

  mask(text: string): string {
    if (this.ordered.length === 0) return text;
    let out = text;
    for (const value of this.ordered) {
      if (out.includes(value)) out = out.split(value).join('***');
    }
    return out;
  }
}
