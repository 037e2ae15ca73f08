// The no-op task both pools run: the measured cost is the pool's, not the task's.
export default async function noop() {}
