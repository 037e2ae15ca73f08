/**
 * The arguments after a task in `pool.run(task, input, options)` and `engine.enqueue(task, input,
 * options)`: the input may be left out exactly when the task's input type accepts undefined (`void`,
 * `undefined`, `T | undefined`, `unknown`), as BullMQ's `queue.add(name)` and graphile-worker's
 * `addJob(name)` take none; a task that needs an input keeps it required. Give it `NoInfer<Input>`:
 * the input is then checked against the task's type instead of widening it (`undefined` for a task
 * of `{ n: number }` would make its Input `{ n: number } | undefined`).
 */
export type InputArgs<Input, Options> = undefined extends Input
  ? [input?: Input, options?: Options]
  : [input: Input, options?: Options];

/** A request object's `input` field: optional exactly when, in `InputArgs`, the argument is. */
export type InputField<Input> = undefined extends Input
  ? { readonly input?: Input }
  : { readonly input: Input };
