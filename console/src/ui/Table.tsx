// A data table with a caption and header cells (a screen reader names each cell by its column).
import type { ComponentChildren } from 'preact';
import { t } from '../i18n/index.js';

export interface Column<R> {
  /** The column's heading, in words. */
  label: string;
  cell: (row: R) => ComponentChildren;
  /** Numbers and times align right. */
  align?: 'start' | 'end';
}

export interface TableProps<R> {
  caption: string;
  /** Visually hidden caption (the view's heading says it already). */
  hideCaption?: boolean;
  columns: Column<R>[];
  rows: readonly R[];
  rowKey: (row: R) => string | number;
  empty?: string;
}

export function Table<R>({ caption, hideCaption, columns, rows, rowKey, empty }: TableProps<R>) {
  return (
    <div class="table-wrap">
      <table class="table">
        <caption class={hideCaption ? 'visually-hidden' : undefined}>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.label} scope="col" class={c.align === 'end' ? 'align-end' : undefined}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length} class="table-empty">
                {empty ?? t('common.none')}
              </td>
            </tr>
          ) : (
            rows.map((r) => (
              <tr key={rowKey(r)}>
                {columns.map((c) => (
                  <td key={c.label} class={c.align === 'end' ? 'align-end' : undefined}>
                    {c.cell(r)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}
