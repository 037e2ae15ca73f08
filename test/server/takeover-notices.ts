/** The line a server logs once it took a run over and goes on with it (run-takeover.ts). */
export function tookOver(runId: string): RegExp {
  const why =
    '(whose process has exited|which released it as it stopped|whose last heartbeat was \\d+ s ago)';
  return new RegExp(`^took over run ${runId} from [^ ]+/\\d+, ${why}; it goes on here$`);
}

/**
 * Waits until a line of `notices` matches `line`: a server logs a takeover once it has continued the
 * run, a little after its claim shows in the store.
 */
export async function noticed(notices: readonly string[], line: RegExp): Promise<void> {
  for (let waited = 0; !notices.some((notice) => line.test(notice)); waited += 20) {
    if (waited > 10_000) throw new Error(`no notice matching ${line} in ${JSON.stringify(notices)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
