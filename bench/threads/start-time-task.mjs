// Returns when it started, on the same clock as the main thread's performance.timeOrigin + now().
export default function startTime() {
  return performance.timeOrigin + performance.now();
}
