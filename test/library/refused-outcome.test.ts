import { describe, expect, it } from 'vitest';
import { ValkyrieError } from '../../src/core/errors.js';
import { refusedOutcome } from '../../src/library/stored-job.js';

describe('refusedOutcome: a job its store did not take', () => {
  it('is cancelled with the store error code when the error is ours', () => {
    const error = new ValkyrieError('VK_QUEUE_FULL', 'the queue holds 10 jobs, its capacity');
    expect(refusedOutcome(error)).toEqual({
      kind: 'cancelled',
      reason: 'the store refused the job: the queue holds 10 jobs, its capacity',
      code: 'VK_QUEUE_FULL',
    });
  });

  it('is cancelled as the store refusing it for any other error, not blamed on its input', () => {
    expect(refusedOutcome(new Error('disk I/O error'))).toEqual({
      kind: 'cancelled',
      reason: 'the store refused the job: disk I/O error',
    });
  });
});
