/**
 * Inputs and outputs on a durable store travel as JSON, as BullMQ's and graphile-worker's do: a task
 * and a handle see what the store holds, on every attempt and every engine. `jsonForm` is that value:
 * the value itself when JSON holds it exactly (plain objects, arrays, strings, finite numbers,
 * booleans, null — most values, which are then neither copied nor parsed), else what
 * `JSON.parse(JSON.stringify(value))` gives (a Date becomes its ISO string, NaN null, an `undefined`
 * member is left out). A value JSON would lose without a word, or cannot hold at all, throws a
 * TypeError naming where it is (`input.tags is a Set`): a BigInt, a symbol, a function, a cycle,
 * a Map, a Set, a typed array, an ArrayBuffer, a RegExp, an Error, a WeakMap, a WeakSet, a Promise.
 */
export function jsonForm(value: unknown, root: string): unknown {
  if (value === undefined) return undefined;
  const walk = new JsonWalk(root);
  return walk.exact(value) ? value : JSON.parse(JSON.stringify(value));
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

  constructor(private readonly root: string) {}

  /** Whether JSON holds `value` exactly; throws for a value it cannot hold. */
  exact(value: unknown): boolean {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return true;
      case 'number':
        // NaN and ±Infinity become null, -0 becomes 0.
        return Number.isFinite(value) && !Object.is(value, -0);
      case 'undefined':
        // Left out of an object, null in an array.
        return false;
      case 'bigint':
        return this.refuse('a BigInt');
      case 'symbol':
        return this.refuse('a symbol');
      case 'function':
        return this.refuse('a function');
    }
    if (value === null) return true;
    return this.exactObject(value as object);
  }

  private exactObject(value: object): boolean {
    const at = this.ancestors.indexOf(value);
    if (at >= 0) return this.refuse(`a reference back to ${this.path(at)} (a cycle)`);
    if (ArrayBuffer.isView(value)) return this.refuse(`a ${value.constructor?.name ?? 'typed array'}`);
    const lossy = lossyTags.get(Object.prototype.toString.call(value));
    if (lossy !== undefined) return this.refuse(lossy);
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    this.ancestors.push(value);
    try {
      if (typeof toJSON === 'function') {
        // A Date: what JSON stores is what toJSON returns.
        this.exact(toJSON.call(value, String(this.keys.at(-1) ?? '')));
        return false;
      }
      if (Array.isArray(value)) return this.exactArray(value);
      const proto = Object.getPrototypeOf(value);
      // Another class's instance arrives as a plain object of its own enumerable properties.
      let exact = proto === Object.prototype || proto === null;
      for (const key in value) {
        if (!Object.hasOwn(value, key)) continue;
        this.keys.push(key);
        if (!this.exact((value as Record<string, unknown>)[key])) exact = false;
        this.keys.pop();
      }
      return exact;
    } finally {
      this.ancestors.pop();
    }
  }

  private exactArray(value: readonly unknown[]): boolean {
    let exact = true;
    for (let i = 0; i < value.length; i++) {
      this.keys.push(i);
      // A hole becomes null.
      if (!(i in value) || !this.exact(value[i])) exact = false;
      this.keys.pop();
    }
    return exact;
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
