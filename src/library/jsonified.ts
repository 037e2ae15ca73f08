import type { TaskContext } from '../executors/thread/task-context.js';

/**
 * The type of `JSON.parse(JSON.stringify(value))` for a `value` of type `T`: what a job's handle,
 * its workflow's result and its task receive of a value of that type, since job data is JSON on
 * every store (json-value.ts). So `Jsonified<{ at: Date; note?: string; f(): void }>` is
 * `{ at: string; note?: string }`:
 *
 * - `toJSON()` is honoured: a `Date` becomes a `string` (what its toJSON returns);
 * - strings, numbers, booleans and null stay (NaN and ±Infinity arrive as null, which a type cannot
 *   tell from a number);
 * - an object member that may be `undefined` becomes optional; one that is only `undefined`, a
 *   function (a method) or a symbol, and a symbol key, are left out;
 * - an array item that is `undefined`, a function or a symbol becomes `null`;
 * - what JSON cannot hold, which fails the job instead (a BigInt, a Map, a Set, a typed array, a
 *   Promise, a RegExp; a function or symbol as the whole value), is `never`;
 * - `unknown` and `any` stay what they are; a value of `undefined` (no input, no output) stays.
 */
export type Jsonified<T> = unknown extends T ? T : JsonOf<T>;

/** Distributes over a union: `Date | undefined` is `string | undefined`. */
type JsonOf<T> = T extends Primitive
  ? T
  : T extends { toJSON(key: string): infer Out }
    ? Jsonified<Out>
    : T extends NotJson
      ? never
      : T extends readonly unknown[]
        ? { [K in keyof T]: ItemOf<T[K]> }
        : T extends object
          ? MembersOf<T>
          : never;

// biome-ignore lint/suspicious/noConfusingVoidType: a task typed to return nothing returns `void`, which stays.
type Primitive = string | number | boolean | null | undefined | void;

/** Values jsonForm refuses; Error is not here: a plain `{ name, message }` has its type. */
type NotJson =
  | bigint
  | symbol
  | ((...args: never) => unknown)
  | ReadonlyMap<unknown, unknown>
  | ReadonlySet<unknown>
  | ArrayBufferLike
  | ArrayBufferView
  | PromiseLike<unknown>
  | RegExp;

/** What JSON leaves out of an object (and writes `null` for in an array). */
type Dropped = undefined | symbol | ((...args: never) => unknown);

type ItemOf<T> = T extends Dropped ? null : Jsonified<T>;

/** Members that are always there, members that may be left out (an undefined, say), as one type. */
type MembersOf<T> = Flat<
  { [K in keyof T as KeptKey<T, K, 'always'>]: Jsonified<T[K]> } & {
    [K in keyof T as KeptKey<T, K, 'maybe'>]?: Jsonified<Exclude<T[K], Dropped>>;
  }
>;

/**
 * `K` when its member is kept `always` (no part of it is dropped) or `maybe` (some part is, and
 * some is not); never for a symbol key or a member JSON always leaves out.
 */
type KeptKey<T, K extends keyof T, When extends 'always' | 'maybe'> = K extends symbol
  ? never
  : [Exclude<T[K], Dropped>] extends [never]
    ? never
    : [Extract<T[K], Dropped>] extends [never]
      ? When extends 'always'
        ? K
        : never
      : When extends 'maybe'
        ? K
        : never;

type Flat<T> = { [K in keyof T]: T[K] };

/**
 * A task module's function as the engine calls it: with its input as the job holds it (JSON), e.g.
 * `export default (async (input) => …) satisfies JobFunction<{ at: Date }, Report>` makes `input.at`
 * a string, which it is. A workflow node's task of `NodeInput<X, Parents>` receives
 * `Jsonified<NodeInput<X, Parents>>`: its input and its parents' outputs in their JSON form.
 */
export type JobFunction<Input = unknown, Output = unknown> = (
  input: Jsonified<Input>,
  ctx: TaskContext,
) => Output | Promise<Output>;
