// The one CSV writer, for files people open in a spreadsheet (the entry-log export, the register of
// access holders): UTF-8 with a BOM so Excel reads Japanese, CRLF line ends, and a cell a
// spreadsheet would run as a formula ("=HYPERLINK(...)" typed as a name) kept as text.
import { stringify, type Options } from 'csv-stringify/sync';

/** Starts the file: Excel takes UTF-8 without it for the local code page and garbles Japanese. */
export const CSV_BOM = '\ufeff';

const OPTIONS: Options = {
  record_delimiter: '\r\n',
  // Given a record delimiter, csv-stringify quotes only cells holding that very sequence: a lone
  // LF or CR in a cell must be quoted as well, or a reader splits the row there.
  quote_record_delimiter: true,
  // A leading ' on cells starting = + - @ tab CR (and their full-width forms); not on negative numbers.
  escape_formulas: true,
  // Leading or trailing spaces survive a spreadsheet's import only when quoted.
  quoted_match: /^\s|\s$/,
  cast: {
    boolean: (value) => String(value),
    // Arrays and objects (factors, detail) as JSON, as the JSON Lines export has them.
    object: (value) => JSON.stringify(value),
  },
};

/** CSV rows, each ended by CRLF; null and undefined cells are empty. No BOM: for a stream's later chunks. */
export function csvRows(rows: readonly (readonly unknown[])[]): string {
  return rows.length ? stringify(rows as unknown[][], OPTIONS) : '';
}

/** A whole CSV file: the BOM, the header row, then the rows. */
export function csvFile(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return CSV_BOM + csvRows([header, ...rows]);
}
