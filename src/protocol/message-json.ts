import { fieldPrefix, valueJson } from '../core/json-text.js';

/**
 * The JSON of a message as it goes on the wire: always what `JSON.stringify(message)` gives, byte for
 * byte, but a lease may carry its spec's JSON ready-made, as a `JsonTemplate` built it. A lease is
 * mostly its spec (its JSON was ~2 of a lease's ~2.3 µs), and the legs of one job (a matrix) have
 * specs that differ in a few values only (job id, name, matrix, strategy): the JSON of the rest is
 * built once per job.
 */

/**
 * The JSON of a lease's `job`, when its sender has it (a JsonTemplate built it): a field under a
 * symbol key, which JSON, for-in and Object.keys do not see, set in the message's own literal. It may
 * be a function giving the JSON, called only when the message is encoded: a lease that never leaves
 * the process (local mode's in-process transport) then costs no JSON at all.
 * (Keeping the JSON by the spec object instead, in a WeakMap or a field added to it, cost the garbage
 * collector and V8's object shapes more than the JSON saved.)
 */
export const jobJson: unique symbol = Symbol('valkyrie.jobJson');

/**
 * `JSON.stringify(message)`; a lease's spec JSON is spliced in when the message carries it. A plain
 * object's fields are written one by one (core/json-text.ts): an offer's all are strings and numbers.
 */
export function messageJson(message: unknown): string {
  if (typeof message !== 'object' || message === null) return JSON.stringify(message);
  const record = message as Record<string, unknown> & { [jobJson]?: unknown };
  if (Object.getPrototypeOf(record) !== Object.prototype || 'toJSON' in record)
    return JSON.stringify(message);
  const carried = record.type === 'lease' ? record[jobJson] : undefined;
  const specJson = typeof carried === 'function' ? (carried as () => unknown)() : carried;
  let json = '';
  // for-in, not Object.keys: V8 walks it with the object's enum cache and loads fields directly. Only
  // own fields are enumerable here: the prototype is Object.prototype, whose fields are not.
  for (const key in record) {
    const fieldJson = key === 'job' && typeof specJson === 'string' ? specJson : valueJson(record[key]);
    // JSON.stringify leaves out fields whose value has no JSON (undefined, a function, a symbol).
    if (fieldJson === undefined) continue;
    json += fieldPrefix(key, json === '') + fieldJson;
  }
  return json === '' ? '{}' : `${json}}`;
}

/**
 * Makes objects that differ only in a few values, each with its JSON built from one template: the
 * JSON of a probe object, made with a placeholder for every value, split where they are. `make` must
 * place each value in its result as it is, exactly once, and do nothing else with it (read no field
 * of it, build no string from it). When the probe shows otherwise (a placeholder missing, or found
 * twice), or a value has no JSON of its own, `fill` gives no JSON, and the message is encoded whole;
 * but the first JSON asked for is the made object's own, with no probe.
 */
export class JsonTemplate<V extends Record<string, unknown>, T extends object> {
  /**
   * The probe's JSON around the values, and which value goes after each part; null when the probe
   * showed the template cannot work. Made by the first JSON asked for: in local mode none ever is.
   */
  private split: TemplateSplit<keyof V & string> | null | undefined;
  /**
   * Whether a JSON was asked for yet. The first is its object's own (JSON.stringify): a job of one leg,
   * most jobs, then builds no probe, which cost more than that JSON (the probe's is as long, and
   * searched and cut). The second asked for, of another leg most likely, makes the probe.
   */
  private asked = false;

  constructor(
    private readonly make: (values: V) => T,
    private readonly names: readonly (keyof V & string)[],
  ) {}

  private splitProbe(): TemplateSplit<keyof V & string> | null {
    const { make, names } = this;
    const placeholders = names.map((_, i) => `\u0000vk-template-${i}\u0000`);
    const probe = JSON.stringify(make(Object.fromEntries(names.map((n, i) => [n, placeholders[i]])) as V));
    const found: { at: number; index: number; length: number }[] = [];
    for (const [index, placeholder] of placeholders.entries()) {
      const token = JSON.stringify(placeholder);
      const at = probe?.indexOf(token) ?? -1;
      if (at < 0 || probe?.indexOf(token, at + 1) !== -1) return null;
      found.push({ at, index, length: token.length });
    }
    if (probe === undefined) return null;
    found.sort((a, b) => a.at - b.at);
    const parts: string[] = [];
    let from = 0;
    for (const { at, length } of found) {
      parts.push(probe.slice(from, at));
      from = at + length;
    }
    parts.push(probe.slice(from));
    return { parts, order: found.map(({ index }) => names[index] as keyof V & string) };
  }

  /** `make(values)`, and its JSON when the template could build it (see the class comment). */
  fill(values: V): { readonly value: T; readonly json: string | undefined } {
    const value = this.make(values);
    return { value, json: this.json(values, value) };
  }

  /**
   * `make(values)` now, and its JSON only when asked, built then: a JSON made long before the
   * message that carries it (a job's spec, planned with its run) outlives a young-generation GC.
   */
  fillLazily(values: V): { readonly value: T; json(): string | undefined } {
    const value = this.make(values);
    return { value, json: () => this.json(values, value) };
  }

  /** The JSON of `made`, which `make(values)` returned. */
  private json(values: V, made: T): string | undefined {
    if (this.split === undefined) {
      if (!this.asked) {
        this.asked = true;
        return jsonOrUndefined(made);
      }
      this.split = this.splitProbe();
    }
    const split = this.split;
    if (!split) return undefined;
    const { parts, order } = split;
    let json = parts[0] ?? '';
    for (let i = 0; i < order.length; i++) {
      const valueText = jsonOrUndefined(values[order[i] as keyof V]);
      if (valueText === undefined) return undefined;
      json += valueText + (parts[i + 1] ?? '');
    }
    return json;
  }
}

interface TemplateSplit<K extends string> {
  readonly parts: readonly string[];
  readonly order: readonly K[];
}

/** A value JSON cannot encode (a bigint) is left to throw where the message is sent, as it would. */
function jsonOrUndefined(value: unknown): string | undefined {
  try {
    return valueJson(value);
  } catch {
    return undefined;
  }
}
