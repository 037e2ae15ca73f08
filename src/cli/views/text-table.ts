import { displayWidth, padToWidth } from '../../core/display-width.js';
import { visible } from '../../core/visible-text.js';

/**
 * Rows as plain columns two spaces apart, each padded to its widest cell in terminal columns (the first
 * row is the header);
 * control characters in a cell are escaped (visible), so that no cell forges a row.
 */
export function textTable(cells: readonly (readonly string[])[]): string {
  const rows = cells.map((row) => row.map(visible));
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => displayWidth(row[column] ?? '')))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => padToWidth(cell, widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** An epoch-ms time as ISO 8601 to the second. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
