import { setTimeout as delay } from 'node:timers/promises';
import { ValkyrieError } from '../core/errors.js';
import { type PackedBundle, type PackOptions, packWorkspace } from './pack.js';

export interface SettledPackOptions extends PackOptions {
  /** Packs tried in all before VK_BUNDLE_CHANGED is thrown (default 3). */
  readonly attempts?: number;
  /** Wait before the n-th retry is n × this (default 250 ms): a save or a build step often settles by then. */
  readonly backoffMs?: number;
  /** Called before each retry with the change that spoiled the attempt (to tell the user). */
  readonly onRetry?: (change: ValkyrieError, attempt: number) => void | Promise<void>;
}

/**
 * packWorkspace, tried again when a file changes while it is read: an editor saving or a build
 * writing in the workspace at that moment should not fail a submission. Any other error, and the
 * last attempt's VK_BUNDLE_CHANGED, is thrown as it is.
 */
export async function packSettledWorkspace(
  root: string,
  options: SettledPackOptions = {},
): Promise<PackedBundle> {
  const attempts = Math.max(1, options.attempts ?? 3);
  const backoffMs = options.backoffMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await packWorkspace(root, options);
    } catch (error) {
      const changed = error instanceof ValkyrieError && error.code === 'VK_BUNDLE_CHANGED';
      if (!changed || attempt >= attempts) throw error;
      await options.onRetry?.(error, attempt);
      await delay(attempt * backoffMs, undefined, { signal: options.signal });
    }
  }
}
