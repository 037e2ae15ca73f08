/**
 * Sets `record[key]` as an own, enumerable data property whatever the key: an assignment with the
 * key `__proto__` would replace the object's prototype instead, so keys that come from users (node
 * ids, decoded payloads) go through here.
 */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
