import { escapeRegExp } from '../core/escape-reg-exp.js';
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
  /**
   * The values in alternations, longest first: one scan of a line for many values instead of a search
   * per value (each secret adds up to a dozen encoded forms, and every line of every step is masked).
   * V8 refuses a regular expression past some size, so values are grouped up to `maxAlternation`
   * characters, and one longer than that is searched for as a string.
   */
  private searches: (RegExp | string)[] = [];

  add(value: string): void {
    const lines = [value, ...value.split(/\r?\n/)].map((v) => v.trim()).filter((v) => v.length > 0);
    let changed = false;
    for (const candidate of lines.flatMap((line) => [line, ...secretEncodings(line)])) {
      if (this.values.has(candidate)) continue;
      this.values.add(candidate);
      changed = true;
    }
    if (!changed) return;
    this.ordered = [...this.values].sort((a, b) => b.length - a.length);
    this.searches = searchesFor(this.ordered);
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
    let out = text;
    for (const search of this.searches) {
      if (typeof search !== 'string') out = out.replace(search, '***');
      else if (out.includes(search)) out = out.split(search).join('***');
    }
    return out;
  }
}

const maxAlternation = 16_384;

/** `values` (longest first) as searches in the same order: alternations of at most maxAlternation. */
function searchesFor(values: readonly string[]): (RegExp | string)[] {
  const searches: (RegExp | string)[] = [];
  let group: string[] = [];
  let size = 0;
  const close = () => {
    if (group.length > 0) searches.push(new RegExp(group.join('|'), 'g'));
    group = [];
    size = 0;
  };
  for (const value of values) {
    const escaped = escapeRegExp(value);
    if (escaped.length > maxAlternation) {
      searches.push(value);
      continue;
    }
    if (size + escaped.length > maxAlternation) close();
    group.push(escaped);
    size += escaped.length + 1;
  }
  close();
  return searches;
}
