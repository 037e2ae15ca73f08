import * as z from 'zod';
import { attemptStatuses, jobStatuses, runStatuses, stepResults } from '../core/outcome.js';
import { priorities } from '../core/priority.js';
import { leaseExpiryEnds } from '../engine/runner-absence.js';
import { attemptsMeta } from './schemas.js';

/**
 * The views of runs, their jobs, attempts and steps (run-views.ts): the answers of the API's runs
 * routes, and what `valkyrie runs --json` and `valkyrie show --json` print of a local run as of a
 * server's.
 */

export const jobRunnerSchema = z
  .object({
    id: z.string().meta({ description: "the runner's id (its credential's)" }),
    name: z.string().meta({ description: 'the name it registered with' }),
  })
  .meta({ id: 'JobRunner' });

export const staleWriteViewSchema = z
  .object({
    messageType: z
      .string()
      .meta({ description: "the refused message's type, e.g. job.completed; register for a resume" }),
    fencingToken: z.number().meta({ description: 'the token it was sent under' }),
    currentToken: z
      .number()
      .optional()
      .meta({ description: "the job's live lease token then; absent: none was live" }),
    runnerId: z.string().optional().meta({ description: 'the runner that sent it' }),
    at: z.number().meta({ description: 'epoch ms, when it was refused' }),
  })
  .meta({ id: 'StaleWrite' });

const stepResultSchema = z.enum(stepResults);

export const jobAttemptViewSchema = z
  .object({
    attempt: z.number().meta({ description: 'from 1' }),
    status: z.enum(attemptStatuses).meta({
      description:
        "how it ended: a job's final status, or `runner_lost`: its runner was lost and the job was requeued as its next attempt (`on-runner-lost: requeue`; `reason` says how it was lost), which is not a failure of the job",
    }),
    startedAt: z.number().optional().meta({ description: 'epoch ms; absent: it ended before it started' }),
    finishedAt: z.number().meta({ description: 'epoch ms' }),
    durationMs: z.number().optional().meta({ description: "this attempt's own time" }),
    reason: z.string().optional(),
    retry: z.object({ delayMs: z.number(), reason: z.string() }).optional().meta({
      description: 'the job was retried after it (retry:, or a lost runner): after how long, and why',
    }),
    runner: jobRunnerSchema.optional().meta({ description: 'the runner that started it' }),
  })
  .meta({ id: 'JobAttempt' });

export const stepViewSchema = z
  .object({
    index: z.number().meta({ description: "the step's position in the job, from 0" }),
    name: z.string(),
    ...attemptsMeta,
    outcome: stepResultSchema.optional().meta({ description: 'before continue-on-error' }),
    conclusion: stepResultSchema.optional().meta({ description: 'absent while it runs' }),
    exitCode: z.number().optional(),
    startedAt: z.number().optional(),
    finishedAt: z.number().optional(),
    durationMs: z.number().optional(),
    retryDelayMs: z
      .number()
      .optional()
      .meta({ description: 'another attempt of the step followed (step retry:), after this delay' }),
    timedOutAfterMs: z
      .number()
      .optional()
      .meta({ description: 'its timeout-minutes stopped it: that limit, in ms' }),
    maxAttempts: z.number().optional().meta({
      description:
        'the attempts in all its retry: allows (max-attempts); absent without retry:, while it runs, and from a runner older than it',
    }),
  })
  .meta({ id: 'StepView' });

const singleRunOnly = 'in the view of one run (GET /api/v1/runs/:id) only, not in the runs list';

export const jobViewSchema = z.object({
  id: z.string(),
  key: z.string(),
  name: z.string(),
  matrix: z.record(z.string(), z.unknown()).meta({
    description: "the matrix leg's values (`matrix.*`), `{}` for a job without a matrix",
  }),
  status: z.enum(jobStatuses),
  startedAt: z.number().optional().meta({ description: 'epoch ms: when this attempt started' }),
  finishedAt: z.number().optional().meta({ description: 'epoch ms: when this attempt ended' }),
  durationMs: z.number().optional().meta({
    description:
      "a finished job's whole time, as `valkyrie show` tells it: from the start of the first of the attempts that retries led to this one (waits included; a re-run starts the count again) to this attempt's end. The runs list gives it only for a job at its first attempt",
  }),
  attempt: z.number().meta({ description: 'the attempt this status is of, from 1 (retries, re-runs)' }),
  reason: z.string().optional(),
  continuedOnError: z.literal(true).optional().meta({
    description:
      'the job failed (`status` stays `failed`, as GitHub shows it) and its job-level `continue-on-error` let the run go on: its `needs.<job>.result` read `success`. Absent otherwise, and for a job its `timeout-minutes` stopped, which continue-on-error does not cover',
  }),
  waitingToRunAgain: z.literal(true).optional().meta({
    description:
      "the run's re-run runs the job again and has not planned its next attempt yet (its needs are not done): `status`, `attempt` and the times are still those of the earlier attempt that ended. Absent otherwise",
  }),
  queuedAt: z.number().optional().meta({
    description: 'epoch ms: when this attempt was last put in the queue to be offered to runners',
  }),
  notBefore: z.number().optional().meta({
    description: "epoch ms: this attempt is not offered before then (a retry's delay)",
  }),
  priority: z
    .enum(priorities)
    .optional()
    .meta({ description: "this attempt's queue priority; absent before it was queued" }),
  outputs: z.record(z.string(), z.string()).meta({
    description:
      "the job's `outputs:` as it set them (`needs.<job>.outputs.*`); `{}` before it ends, or without any",
  }),
  runner: jobRunnerSchema.optional().meta({
    description:
      'the runner that started this attempt (the last one, if it was requeued); absent before it started',
  }),
  staleWrites: z.array(staleWriteViewSchema).meta({
    description:
      'messages about this job refused under a stale fencing token (VK_STALE_LEASE), in the order refused',
  }),
  noRunnerWith: z.array(z.string()).optional().meta({
    description:
      "a queued job's `runs-on` labels when no connected runner that takes jobs has them all: it waits for one (told by the server that drives the run)",
  }),
  setAside: z.literal(true).optional().meta({
    description:
      'with `noRunnerWith`: the connected runners that have the labels are drained or in maintenance',
  }),
  serverClosing: z.literal(true).optional().meta({
    description:
      'with `noRunnerWith`: the server that drives the run is shutting down and offers no job; it starts after its restart, or on another replica that takes the run over',
  }),
  runnersElsewhere: z
    .array(z.object({ id: z.string(), name: z.string(), replica: z.string() }))
    .optional()
    .meta({
      description:
        "with `noRunnerWith`, in a single run's view and a submit's answer: runners (at most 5) that have the labels and take jobs but are connected to another replica; a run's jobs are offered only to runners connected to the replica that drives it, which hands the run to theirs unless `handoff` says otherwise",
    }),
  handoff: z.enum(['pending', 'secrets']).optional().meta({
    description:
      'with `runnersElsewhere`: `pending`, the run moves to their replica once no job of it is offered or running on the one that drives it (at most once per 10 s), keeping its place in any `concurrency:` group; or why it stays there: `secrets`, it was submitted with secrets, whose values are not stored for another replica to take it; absent for a run cancelled on the replica that drives it, which stays there',
  }),
  runnerDisconnected: z
    .object({
      since: z.number().optional().meta({
        description:
          "epoch ms: when the runner's connection closed; absent when it held the job under a server that stopped (a restart, a takeover) and has not connected to this one since",
      }),
      leaseExpiresAt: z.number().meta({
        description: 'epoch ms: when its lease on the job expires unless it reconnects and resumes the job',
      }),
      atExpiry: z.enum(leaseExpiryEnds).meta({
        description:
          'what then happens to the job: its `on-runner-lost:` policy (`requeue`: its next attempt is queued; `fail`: it fails as runner_lost, which `retry:` may retry), or `cancel` for a job that was being cancelled',
      }),
    })
    .optional()
    .meta({
      description:
        "a running job's `runner` is not connected: the server waits for it to come back and resume the job until its lease expires, and until then the job stays `running` (told by the server that drives the run)",
    }),
  attempts: z
    .array(jobAttemptViewSchema)
    .optional()
    .meta({
      description: `its ended attempts, oldest first (the job's own fields are its current one); ${singleRunOnly}`,
    }),
  steps: z
    .array(stepViewSchema)
    .optional()
    .meta({
      description: `every attempt of its steps, by job attempt, index, then step attempt; ${singleRunOnly}`,
    }),
});

export const runViewSchema = z
  .object({
    id: z.string(),
    runNumber: z.number().meta({
      description: "GitHub's run_number: its workflow's runs (by name) counted from 1",
    }),
    workflowName: z.string(),
    workflowPath: z.string().meta({ description: 'the workflow file as the run was started with it' }),
    sha: z.string().optional().meta({
      description: 'its github.sha: the commit it was started on; absent when it had none (no git checkout)',
    }),
    ref: z
      .string()
      .optional()
      .meta({ description: 'its github.ref, e.g. refs/heads/main; absent when it had none' }),
    status: z.enum(runStatuses),
    interrupted: z.literal(true).optional().meta({
      description:
        'local runs only: the `valkyrie run` process that ran it stopped before it ended (its `status` is the one it stopped in); `valkyrie resume` continues it',
    }),
    attempt: z.number().meta({ description: "GitHub's run_attempt: 1, one more for each re-run" }),
    createdAt: z.number().meta({ description: 'epoch ms: when it was submitted' }),
    startedAt: z.number().optional().meta({
      description:
        'epoch ms: when it started (its concurrency group admitted it; its duration counts from here); absent before',
    }),
    finishedAt: z.number().optional(),
    concurrency: z
      .object({
        group: z.string(),
        state: z.enum(['waiting', 'admitted', 'replaced', 'cancel-requested']),
        ahead: z.number().optional(),
        at: z.number().meta({ description: 'epoch ms: when the process that drives the run recorded this' }),
        joinedAt: z.number().optional().meta({
          description:
            "epoch ms: when the run's current attempt joined the group (a re-run's own join); absent for a run recorded before it was kept",
        }),
      })
      .optional()
      .meta({
        description:
          "its place in its workflow's `concurrency:` group: `waiting` (with `ahead`: the members before it) until the group admits it, then `admitted`; `replaced` when a newer run took its place before it started; `cancel-requested` when a newer run asked it to stop. Absent for a run without a group",
      }),
    selectedJobs: z.array(z.string()).optional().meta({
      description:
        'the `jobs` the run was submitted with: it planned only those and the jobs they need. Absent when it runs every job; the runs list leaves it out',
    }),
    matrixFilter: z.record(z.string(), z.array(z.string())).optional().meta({
      description:
        'the `matrix` the run was submitted with (or `valkyrie run --matrix`): it planned only the legs that filter keeps. Absent when it runs every leg; the runs list leaves it out',
    }),
    jobs: z.array(jobViewSchema),
  })
  .meta({ id: 'RunView' });

export const runListSchema = z.object({
  runs: z.array(runViewSchema),
  next: z
    .string()
    .optional()
    .meta({ description: 'pass as `cursor` for the next, older page; absent on the last page' }),
});

export type RunView = z.infer<typeof runViewSchema>;
export type JobAttemptView = z.infer<typeof jobAttemptViewSchema>;
export type StepView = z.infer<typeof stepViewSchema>;
