import type { InputField } from '../core/input-args.js';
import type { EngineTask, JobHandle } from './job-record.js';
import type { Jsonified } from './jsonified.js';
import type { JobOptions } from './options.js';

/** One job of `enqueueMany`; `input` may be left out as `enqueue`'s may (InputField). */
export type EnqueueRequest<Input = unknown, Output = unknown> = {
  readonly task: EngineTask<Input, Output> | string;
  readonly options?: JobOptions;
} & InputField<Input>;

/** A task handle or name, as requests give it. */
export type TaskRef = EngineTask<unknown, unknown> | string;
type InputOf<T> = T extends EngineTask<infer Input, unknown> ? Input : unknown;
type OutputOf<T> = T extends EngineTask<unknown, infer Output> ? Output : unknown;

/**
 * `enqueueMany`'s requests, typed per request by its task (inferred from each `task`), so that each
 * `input` is checked against its own task's input type, as `enqueue` checks it, and may be left out
 * as `enqueue`'s may (InputField).
 */
export type EnqueueRequests<Tasks extends readonly TaskRef[]> = {
  readonly [K in keyof Tasks]: {
    readonly task: Tasks[K];
    readonly options?: JobOptions;
  } & InputField<InputOf<Tasks[K]>>;
};

/** A request naming its task, whose types the caller gives (a producer's). */
export interface NamedRequest {
  readonly task: string;
  readonly input?: unknown;
  readonly options?: JobOptions;
}

/** The handles `enqueueMany` returns, each with its own task's output type in its JSON form. */
export type EnqueuedHandles<Tasks extends readonly TaskRef[]> = {
  -readonly [K in keyof Tasks]: JobHandle<Jsonified<OutputOf<Tasks[K]>>>;
};
