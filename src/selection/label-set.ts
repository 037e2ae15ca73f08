/**
 * One name per set of required labels: the same labels in any order, case or repetition give the
 * same name, different sets different names (a runner matches both or neither of two jobs with the
 * same name). Jobs are grouped by it, so that a whole group is passed over when no free runner has
 * its labels.
 */
export function labelSetName(labels: readonly string[]): string {
  const [only] = labels;
  if (labels.length === 1 && only !== undefined) return singleLabelName(only);
  return JSON.stringify([...new Set(labels.map((label) => label.toLowerCase()))].sort());
}

/**
 * Names of one-label sets, the usual `runs-on`, by the label as written: the queue names every job it
 * takes, and building the name was about half of a push (10,000 pushes: 1.3–2.2 µs each with it,
 * 0.4–0.9 µs without). Bounded: labels come from workflows, so a server could see any number of them.
 */
const singleLabelNames = new Map<string, string>();
const singleLabelNamesKept = 1024;

function singleLabelName(label: string): string {
  let name = singleLabelNames.get(label);
  if (name === undefined) {
    name = JSON.stringify([label.toLowerCase()]);
    if (singleLabelNames.size >= singleLabelNamesKept) singleLabelNames.clear();
    singleLabelNames.set(label, name);
  }
  return name;
}
