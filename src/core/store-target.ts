/** Whether a store target names a Postgres database (`postgres://…` or `postgresql://…`). */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//.test(target);
}

/**
 * The scheme of a `scheme://` target that is not Postgres's, else undefined. Such a value was meant
 * as a URL of a store Valkyrie does not have: taken as a SQLite path it would silently create a file
 * such as `./mysql:/host/db`.
 */
export function foreignUrlScheme(target: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(target)?.[1];
  return scheme === undefined || /^postgres(ql)?$/.test(scheme) ? undefined : scheme;
}
