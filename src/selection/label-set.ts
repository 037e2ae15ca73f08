/**
 * One name per set of required labels: the same labels in any order, case or repetition give the
 * same name, different sets different names (a runner matches both or neither of two jobs with the
 * same name). Jobs are grouped by it, so that a whole group is passed over when no free runner has
 * its labels.
 */
export function labelSetName(labels: readonly string[]): string {
  if (labels.length === 1) return JSON.stringify([labels[0]?.toLowerCase()]);
  return JSON.stringify([...new Set(labels.map((label) => label.toLowerCase()))].sort());
}
