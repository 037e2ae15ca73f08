import { fieldPath } from '../core/field-path.js';
import { shellWord } from './shell-word.js';

/**
 * The request fields a command filled from its flags, by their API path (core/field-path.ts), each
 * told as the command line gave it: `{'body.name': '--name', 'body.matrix.os.1': '--matrix os=macos'}`.
 * A refusal of one of them names the flag instead of the field (ApiRequestError.namingFlags): the
 * user typed `--matrix`, not `body.matrix`.
 */
export type FieldFlags = Readonly<Record<string, string>>;

/** How much of a typed value a refusal repeats: the rest is on the user's command line. */
const shownLength = 60;

/**
 * `--flag VALUE` (`--flag KEY=VALUE` with a key) as a shell word the user could have typed; a value
 * longer than shownLength is cut and its length said (what a refusal of a long value is about).
 */
export function typedFlag(flag: string, value: string, key?: string): string {
  const long = value.length > shownLength;
  const shown = long ? value.slice(0, shownLength) : value;
  const word = shellWord(key === undefined ? shown : `${key}=${shown}`);
  return long ? `${flag} ${word}… (${value.length} characters)` : `${flag} ${word}`;
}

/** A flag given once (`--event push`) that filled `field`. */
export function onceFlag(field: string, flag: string, value: string | undefined): FieldFlags {
  return value === undefined ? {} : { [field]: typedFlag(flag, value) };
}

/**
 * A repeated flag that filled the list `field` (`--job a --job b`): the list is the flag, each item
 * the flag with its value.
 */
export function listFlag(field: string, flag: string, values: readonly string[] | undefined): FieldFlags {
  if (values === undefined) return {};
  const items = values.map((value, at) => [fieldPath(field, [at]), typedFlag(flag, value)]);
  return Object.fromEntries([[field, flag], ...items]);
}

/**
 * A repeated `KEY=VALUE` flag that filled the record `field` (`--env`, `--var`, `--input`): each key
 * told with its value, or without it (`--secret NAME=…`) when `shown` is 'name', as a secret's never is.
 * Not the record itself: a refusal of it is about what the flags did not give (a secret missing).
 */
export function pairFlag(
  field: string,
  flag: string,
  pairs: Readonly<Record<string, string>> | undefined,
  shown: 'value' | 'name' = 'value',
): FieldFlags {
  return Object.fromEntries(
    Object.entries(pairs ?? {}).map(([key, value]) => [
      fieldPath(field, [key]),
      shown === 'value' ? typedFlag(flag, value, key) : `${flag} ${shellWord(key)}=…`,
    ]),
  );
}

/**
 * A repeated `KEY=VALUE` flag that filled `field` with key → values (`--matrix os=a --matrix os=b`):
 * the record is the flag, a key's list `--matrix os=…`, each value the pair typed.
 */
export function keyedListFlag(
  field: string,
  flag: string,
  lists: Readonly<Record<string, readonly string[]>> | undefined,
): FieldFlags {
  if (lists === undefined) return {};
  const entries = Object.entries(lists).flatMap(([key, values]) => [
    [fieldPath(field, [key]), `${flag} ${shellWord(key)}=…`],
    ...values.map((value, at) => [fieldPath(field, [key, at]), typedFlag(flag, value, key)]),
  ]);
  return Object.fromEntries([[field, flag], ...entries]);
}

/**
 * The secrets a new run or re-run sends (`body.secrets`: `--secrets-file`, then `--secret`, which
 * wins, as key-values.ts merges them), each named by where it came from; their values never repeated.
 */
export function secretFlags(
  sent: Readonly<Record<string, string>>,
  options: { readonly secret?: Readonly<Record<string, string>>; readonly secretsFile?: string },
): FieldFlags {
  const file = options.secretsFile;
  const fromFile = Object.keys(sent).filter((name) => !Object.hasOwn(options.secret ?? {}, name));
  return {
    ...(file === undefined
      ? {}
      : Object.fromEntries(
          fromFile.map((name) => [
            fieldPath('body.secrets', [name]),
            `${shellWord(name)}=… of --secrets-file ${shellWord(file)}`,
          ]),
        )),
    ...pairFlag('body.secrets', '--secret', options.secret, 'name'),
  };
}
