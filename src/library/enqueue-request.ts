import type { EngineTask, JobHandle } from './job-record.js';
import type { JobOptions } from './options.js';

/** One job of `enqueueMany`. */
export interface EnqueueRequest<Input = unknown, Output = unknown> {
  readonly task: EngineTask<Input, Output> | string;
  readonly input: Input;
  readonly options?: JobOptions;
}

/** A task handle or name, as requests give it. */
export type TaskRef = EngineTask<unknown, unknown> | string;
type InputOf<T> = T extends EngineTask<infer Input, unknown> ? Input : unknown;
type OutputOf<T> = T extends EngineTask<unknown, infer Output> ? Output : unknown;

/**
 * `enqueueMany`'s requests, typed per request by its task (inferred from each `task`), so that each
 * `input` is checked against its own task's input type, as `enqueue` checks it.
 */
export type EnqueueRequests<Tasks extends readonly TaskRef[]> = {
  readonly [K in keyof Tasks]: {
    readonly task: Tasks[K];
    readonly input: InputOf<Tasks[K]>;
    readonly options?: JobOptions;
  };
};

/** A request naming its task, whose types the caller gives (a producer's). */
export interface NamedRequest {
  readonly task: string;
  readonly input: unknown;
  readonly options?: JobOptions;
}

/** The handles `enqueueMany` returns, each with its own task's output type. */
export type EnqueuedHandles<Tasks extends readonly TaskRef[]> = {
  -readonly [K in keyof Tasks]: JobHandle<OutputOf<Tasks[K]>>;
};
