/**
 * Watches this process's event loop from now on: `stop()` answers the longest it went without running
 * a 10 ms interval, in milliseconds. A parse on the loop shows as a gap of its whole length.
 */
export function watchLoopLag(): { stop(): number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

/**
 * A valid workflow of 1 MB that takes seconds to parse (2 to 3 s on an idle machine, more on a loaded
 * one) but is small once parsed: a push trigger's `paths` of 500,000 items, which runs submitted to a
 * server do not read. The items alone parse in about 0.2 s; a warning in so large a document
 * (`permissions` has no effect yet) costs the seconds (measured: 0.2 s without it, 2.4 s with it).
 * Should warnings become cheap, this needs another slow part: the tests here need seconds.
 */
export const slowValidWorkflow = `on:
  push:
    paths: [${Array(500_000).fill('a').join(',')}]
name: big
permissions: read-all
jobs:
  build:
    runs-on: linux
    steps:
      - run: make
`;
