import { textPrefix } from '../core/text-prefix.js';
import type { RunnerCapabilities } from './messages.js';

/*
 * What a runner's capabilities may hold, in `register` and in `capabilities` (protocol/schemas.ts
 * refuses more, VK_PROTOCOL naming the field): the server keeps them in memory per runner, stores
 * them, and shows them in the runner list. A machine's detection never comes near them (six tools,
 * a few GPUs, names of a few dozen characters); the runner fits what it detects into them all the
 * same (fitCapabilities), as a refusal closes its connection and one restarted would detect, send
 * and be refused the same again.
 */

/** How many tools (name → version) a runner may list. */
export const maxCapabilityTools = 100;

/** How long a tool's name or version may be. */
export const maxToolTextLength = 100;

/** How many GPUs a runner may list. */
export const maxCapabilityGpus = 64;

/** How long its other text may be: OS, arch, CPU model, a GPU's name, the Docker endpoint and API version. */
export const maxCapabilityTextLength = 256;

/**
 * `detected` within the bounds: the first maxCapabilityTools tools and maxCapabilityGpus GPUs, and
 * text longer than its bound cut to it, ending in `…` so that a reader of the runner list sees it
 * was cut (a tool whose cut name meets another's keeps the first).
 */
export function fitCapabilities(detected: RunnerCapabilities): RunnerCapabilities {
  const text = (value: string) => cut(value, maxCapabilityTextLength);
  const tools: Record<string, string> = {};
  for (const [name, version] of Object.entries(detected.tools).slice(0, maxCapabilityTools))
    tools[cut(name, maxToolTextLength)] ??= cut(version, maxToolTextLength);
  const { docker } = detected;
  return {
    ...detected,
    os: text(detected.os),
    arch: text(detected.arch),
    cpuModel: text(detected.cpuModel),
    gpus: detected.gpus.slice(0, maxCapabilityGpus).map((gpu) => ({ ...gpu, name: text(gpu.name) })),
    ...(docker === undefined
      ? {}
      : {
          docker: {
            endpoint: text(docker.endpoint),
            ...(docker.apiVersion === undefined ? {} : { apiVersion: text(docker.apiVersion) }),
          },
        }),
    tools,
  };
}

/** `value` in at most `max` UTF-16 code units, a cut one ending in `…`. */
function cut(value: string, max: number): string {
  return value.length <= max ? value : `${textPrefix(value, max - 1)}…`;
}
