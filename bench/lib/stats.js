/** Order statistics of a list of samples. p90 is nearest-rank: the ceil(0.9·n)-th smallest. */
export function summarize(values) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return {
    n: sorted.length,
    median,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    p90: sorted[Math.ceil(0.9 * sorted.length) - 1],
  };
}

/** Samples grouped by case id, in the order cases first appear. */
export function groupByCase(samples) {
  const groups = new Map();
  for (const sample of samples) {
    const group = groups.get(sample.caseId);
    if (group) group.push(sample);
    else groups.set(sample.caseId, [sample]);
  }
  return groups;
}
