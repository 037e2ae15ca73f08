/**
 * Entry of the server's workflow parse thread (WorkflowParseThread): parses each workflow it is
 * sent with parseWorkflow, in the order sent, and posts the workflow and diagnostics back (the
 * source comes back only inside the workflow, Workflow.source, which places a job key's run-time
 * error), with the size of its heap then, garbage included: what the thread holds, which decides
 * when it is replaced.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import { parseWorkflow } from '../workflow/parse.js';
import type { ParseReply, ParseRequest } from './workflow-parse-thread.js';

const port = parentPort;
if (port === null) throw new Error('workflow-parse-main.js runs only as the thread of a WorkflowParseThread');

port.on('message', ({ source, path, options }: ParseRequest) => {
  try {
    const { workflow, diagnostics } = parseWorkflow(source, path, options);
    const reply: ParseReply = {
      kind: 'parsed',
      diagnostics,
      heapBytes: heapBytes(),
      ...(workflow === undefined ? {} : { workflow }),
    };
    port.postMessage(reply);
  } catch (error) {
    // A DataCloneError from postMessage included: the server then answers 500, as for a throw in process.
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    port.postMessage({ kind: 'failed', message, heapBytes: heapBytes() } satisfies ParseReply);
  }
});

function heapBytes(): number {
  return getHeapStatistics().total_heap_size;
}
port.postMessage({ kind: 'ready' } satisfies ParseReply);
