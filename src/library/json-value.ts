import { types } from 'node:util';
import { messageOf } from '../core/error-message.js';
import { setOwn } from '../core/own-property.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';

/**
 * Inputs and outputs travel as JSON on every store, as BullMQ's and graphile-worker's job data do: a
 * task and a handle see what a durable store holds, on every attempt and every engine, and the
 * in-memory store gives the same values, so that a program behaves alike whichever store it is
 * given. `jsonForm` is that value: the value itself when JSON holds it exactly (plain objects,
 * arrays, strings, finite numbers other than -0, booleans, null — most values, which are then not
 * copied), else a copy as `JSON.parse(JSON.stringify(value))` gives it (a Date becomes its ISO
 * string, NaN null, -0 0, `new Number(3)` 3, an `undefined` member is left out). A value JSON would
 * lose without a word, or cannot hold at all, throws a TypeError naming where it is (`input.tags is
 * a Set`): a BigInt, a symbol, a function, a cycle, a Map, a Set, a typed array, an ArrayBuffer, a
 * RegExp, an Error, a WeakMap, a WeakSet, a Promise.
 */
export function jsonForm(value: unknown, root: string): unknown {
  return walked(value, root, false);
}

/**
 * `jsonForm` that shares nothing with `value`: every object and array in it is a fresh copy (a
 * primitive is itself, with no walk). A job's input is taken so at enqueue (BullMQ stringifies job
 * data as it adds the job, once it has awaited its Redis client): a change the caller makes to the
 * object afterwards never reaches an attempt, on any store, and the first attempt gets what a
 * durable store holds for a retry.
 * Copied during the same walk that checks it, not by a second pass.
 */
export function jsonCopy(value: unknown, root: string): unknown {
  return walked(value, root, true);
}

function walked(value: unknown, root: string, copy: boolean): unknown {
  // Primitives without a walk (most inputs of small jobs): no walker allocated per job.
  switch (typeof value) {
    case 'undefined':
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return numberForm(value);
  }
  return new JsonWalk(root, copy).form(value);
}

/** NaN and ±Infinity become null, -0 becomes 0 (JSON writes it `0`). */
function numberForm(value: number): number | null {
  if (!Number.isFinite(value)) return null;
  return value === 0 ? 0 : value;
}

/**
 * A final outcome as every store hands it out: an output in its JSON form, or `failed`/`output`
 * naming what JSON cannot hold and where. The handle, the events and a durable store's record all
 * get what this returns.
 */
export function jsonOutcome(outcome: TaskOutcome): TaskOutcome {
  if (outcome.kind !== 'succeeded' || outcome.output === undefined) return outcome;
  let output: unknown;
  try {
    output = jsonForm(outcome.output, 'output');
  } catch (error) {
    return notJsonOutcome('output', messageOf(error));
  }
  // Object.is: an output of -0 is 0.
  return Object.is(output, outcome.output) ? outcome : { kind: 'succeeded', output };
}

/** `failed` for an input or output JSON cannot hold; `message` says what and where (jsonForm's). */
export function notJsonOutcome(reason: 'input' | 'output', message: string): TaskOutcome {
  return {
    kind: 'failed',
    reason,
    error: {
      name: 'TypeError',
      code: 'VK_NOT_JSON',
      message: `the ${reason} cannot be stored as JSON: ${message}`,
    },
  };
}

/** Objects JSON turns into `{}` (or their own enumerable properties), losing what they hold. */
const lossyTags = new Map<string, string>([
  ['[object Map]', 'a Map'],
  ['[object Set]', 'a Set'],
  ['[object WeakMap]', 'a WeakMap'],
  ['[object WeakSet]', 'a WeakSet'],
  ['[object RegExp]', 'a RegExp'],
  ['[object Error]', 'an Error'],
  ['[object ArrayBuffer]', 'an ArrayBuffer'],
  ['[object SharedArrayBuffer]', 'a SharedArrayBuffer'],
  ['[object Promise]', 'a Promise'],
]);

class JsonWalk {
  /** The keys from the root to the value being looked at; its path, should it be refused. */
  private readonly keys: (string | number)[] = [];
  /** The objects on that path, for cycles. */
  private readonly ancestors: object[] = [];

  constructor(
    private readonly root: string,
    /** Copies every object and array (jsonCopy), not only those JSON would change. */
    private readonly copies: boolean,
  ) {}

  /**
   * `value` as JSON holds it: itself when JSON holds it exactly (unless `copies`), else a copy (each
   * toJSON called once); `undefined` where JSON leaves a member out. Throws for a value JSON cannot
   * hold.
   */
  form(value: unknown): unknown {
    switch (typeof value) {
      case 'string':
      case 'boolean':
      case 'undefined':
        return value;
      case 'number':
        return numberForm(value);
      case 'bigint':
        return this.refuse('a BigInt');
      case 'symbol':
        return this.refuse('a symbol');
      case 'function':
        return this.refuse('a function');
    }
    if (value === null) return null;
    return this.objectForm(value as object);
  }

  private objectForm(value: object): unknown {
    const at = this.ancestors.indexOf(value);
    if (at >= 0) return this.refuse(`a reference back to ${this.path(at)} (a cycle)`);
    const proto: unknown = Object.getPrototypeOf(value);
    const plainObject = proto === Object.prototype || proto === null;
    // Plain objects and arrays, most values, are none of these: spared the three checks (measured
    // on an input of 5 members, 8 values: 0.6-0.7 µs a walk with them, 0.5-0.6 µs without).
    if (!plainObject && !Array.isArray(value)) {
      if (ArrayBuffer.isView(value)) return this.refuse(`a ${value.constructor?.name ?? 'typed array'}`);
      const lossy = lossyTags.get(Object.prototype.toString.call(value));
      if (lossy !== undefined) return this.refuse(lossy);
      // `new Number(3)`, `new String('a')`, `new Boolean(false)`: JSON writes the value they box.
      if (types.isBoxedPrimitive(value)) return this.form(value.valueOf());
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    this.ancestors.push(value);
    try {
      // A Date: what JSON stores is what toJSON returns.
      if (typeof toJSON === 'function') return this.form(toJSON.call(value, String(this.keys.at(-1) ?? '')));
      if (Array.isArray(value)) return this.arrayForm(value);
      // Another class's instance arrives as a plain object of its own enumerable properties.
      let copy: Record<string, unknown> | undefined = plainObject && !this.copies ? undefined : {};
      const record = value as Record<string, unknown>;
      for (const key in record) {
        if (!Object.hasOwn(record, key)) continue;
        const member = record[key];
        this.keys.push(key);
        const form = this.form(member);
        this.keys.pop();
        // An undefined member is left out: the first makes the copy. Object.is: -0 becomes 0.
        if (Object.is(form, member) && member !== undefined && copy === undefined) continue;
        if (copy === undefined) {
          // The members before this one were exact: copied as they are.
          copy = {};
          for (const earlier in record) {
            if (earlier === key) break;
            if (Object.hasOwn(record, earlier)) setOwn(copy, earlier, record[earlier]);
          }
        }
        // setOwn: a member named `__proto__` (JSON.parse makes one) stays a member.
        if (form !== undefined) setOwn(copy, key, form);
      }
      return copy ?? value;
    } finally {
      this.ancestors.pop();
    }
  }

  private arrayForm(value: readonly unknown[]): unknown {
    // Filled in order, so that it stays a packed array.
    let copy: unknown[] | undefined = this.copies ? [] : undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      this.keys.push(i);
      // A hole or undefined becomes null.
      const form = i in value ? (this.form(item) ?? null) : null;
      this.keys.pop();
      if (Object.is(form, item) && copy === undefined) continue;
      copy ??= value.slice(0, i);
      copy[i] = form;
    }
    return copy ?? value;
  }

  /** `input.tags[0]`: the path of the first `depth` keys. */
  private path(depth = this.keys.length): string {
    let path = this.root;
    for (const key of this.keys.slice(0, depth)) {
      path +=
        typeof key === 'number'
          ? `[${key}]`
          : /^[A-Za-z_$][\w$]*$/.test(key)
            ? `.${key}`
            : `[${JSON.stringify(key)}]`;
    }
    return path;
  }

  private refuse(what: string): never {
    throw new TypeError(`${this.path()} is ${what}, which JSON cannot hold`);
  }
}
