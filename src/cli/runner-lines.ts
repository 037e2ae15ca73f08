/** The runner's own lines: what it does on stdout, what went wrong on stderr. */
export const say = (line: string): void => {
  process.stdout.write(`valkyrie runner: ${line}\n`);
};
export const complain = (line: string): void => {
  process.stderr.write(`valkyrie runner: ${line}\n`);
};
