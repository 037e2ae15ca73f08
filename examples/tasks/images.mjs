// Task steps for examples/tasks.yml. Each export is `(input, ctx) => output`: `input` is the step's
// `with:` (string values), the returned object becomes the step's outputs. They run on the runner's
// worker threads, not in a shell.

/** Pretends to size an image: the step's outputs are `width`, `height` and `pixels`. */
export async function resize(input, ctx) {
  const width = Number(input.width);
  if (!Number.isInteger(width) || width <= 0)
    throw new Error(`width must be a positive integer, got "${input.width}"`);
  ctx.logger.info(`resizing ${input.src} to ${width}px wide (attempt ${ctx.attempt})`);
  // A real task would read input.src here; it should give up when ctx.signal aborts (timeout, cancel).
  ctx.signal.throwIfAborted();
  const height = Math.round((width * 3) / 4);
  ctx.progress({ done: 1, of: 1 });
  return { width, height, pixels: width * height };
}

/** The default export: `uses: task://./tasks/images.mjs` with no #name. Returns a number, so outputs.result. */
export default function count(input) {
  return input.names.split(',').filter((name) => name.trim() !== '').length;
}
