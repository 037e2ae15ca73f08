// Task modules run on Valkyrie's worker threads: each export is `(input, ctx) => output`.

/** Splits a text into words. A workflow node receives `{ input, parents }`. */
export async function words({ input }) {
  return input.split(/\s+/).filter(Boolean);
}

export async function countWords({ parents }) {
  return parents.words.length;
}

export async function longestWord({ parents }) {
  return parents.words.reduce((longest, word) => (word.length > longest.length ? word : longest), '');
}

export async function report({ parents }, ctx) {
  ctx.logger.info('writing the report');
  return `${parents.count} words, the longest is "${parents.longest}"`;
}

/** A plain job: fails on its first attempt to show a retry. */
export async function shout(text, ctx) {
  if (ctx.attempt === 1) throw new Error('not loud enough yet');
  return `${text.toUpperCase()}! (attempt ${ctx.attempt})`;
}
