import { describe, expect, it } from 'vitest';
import { concurrencyStoreContract } from './concurrency-store.contract.js';
import { storeFactories } from './factories.js';
import { jobRunnerContract } from './job-runner.contract.js';
import { jobTriesFromContract } from './job-tries-from.contract.js';
import { jobUpdateLinesContract } from './job-update-lines.contract.js';
import { jobUpdatesContract } from './job-updates.contract.js';
import { logStoreContract } from './log-store.contract.js';
import { queueCancelContract } from './queue-cancel.contract.js';
import { queueClaimCompleteInputContract } from './queue-claim-complete-input.contract.js';
import { queueClaimOrWaitContract } from './queue-claim-or-wait.contract.js';
import { queueCountsContract } from './queue-counts.contract.js';
import { queueEnqueueInputContract } from './queue-enqueue-input.contract.js';
import { queueGetJobsContract } from './queue-get-jobs.contract.js';
import { queueLeaseTtlContract } from './queue-lease-ttl.contract.js';
import { queueReleaseContract } from './queue-release.contract.js';
import { queueStoreContract } from './queue-store.contract.js';
import { rerunAdmissionContract } from './rerun-admission.contract.js';
import { runFenceContract } from './run-fence.contract.js';
import { runHandoffContract } from './run-handoff.contract.js';
import { runIdempotencyKeyContract } from './run-idempotency-key.contract.js';
import { runRecoveryContract } from './run-recovery.contract.js';
import { runReleaseContract } from './run-release.contract.js';
import { runStoreContract } from './run-store.contract.js';
import { runnerStoreContract } from './runner-store.contract.js';
import { staleWriteStoreContract } from './stale-write-store.contract.js';
import { submissionContract } from './submission.contract.js';
import { tokenStoreContract } from './token-store.contract.js';

for (const [name, make, skip] of storeFactories) {
  if (skip !== undefined) console.warn(`${name}: skipping the store conformance suites: ${skip}`);
  describe.skipIf(skip !== undefined)(name, () => {
    runStoreContract(make);
    jobUpdatesContract(make);
    jobUpdateLinesContract(make);
    jobRunnerContract(make);
    jobTriesFromContract(make);
    logStoreContract(make);
    staleWriteStoreContract(make);
    submissionContract(make);
    runIdempotencyKeyContract(make);
    describe('queue', () => {
      queueStoreContract(make);
      queueEnqueueInputContract(make);
      queueCountsContract(make);
      queueClaimOrWaitContract(make);
      queueCancelContract(make);
      queueGetJobsContract(make);
      queueLeaseTtlContract(make);
      queueClaimCompleteInputContract(make);
      queueReleaseContract(make);
    });
    runRecoveryContract(make);
    rerunAdmissionContract(make);
    runHandoffContract(make);
    runReleaseContract(make);
    runFenceContract(make);
    concurrencyStoreContract(make);
    tokenStoreContract(make);
    runnerStoreContract(make);

    describe('lifecycle', () => {
      it('closes idempotently, through close() and Symbol.asyncDispose alike', async () => {
        const { stores, cleanup } = await make();
        try {
          await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
          await Promise.all([stores.close(), stores.close()]);
          await stores[Symbol.asyncDispose]();
          await expect(stores.close()).resolves.toBeUndefined();
        } finally {
          await cleanup();
        }
      });

      it('rejects (never throws synchronously) once closed', async () => {
        const { stores, cleanup } = await make();
        try {
          await stores.close();
          const pending = stores.runs.listRuns();
          await expect(pending).rejects.toBeInstanceOf(Error);
        } finally {
          await cleanup();
        }
      });
    });
  });
}
