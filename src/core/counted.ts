/** A count and its noun, plural but for one: `1 job`, `3 jobs`, `0 jobs`. */
export function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
