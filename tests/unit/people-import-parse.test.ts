// Reading an HR export before any row is checked (src/services/people-import.ts): the encoding
// named or found (a BOM wins), header names in English or Japanese (full-width too), the line a
// row starts on when a quoted cell spans lines, and dates as HR systems write them.
import { describe, expect, it } from 'vitest';
import { decodeImport, importEncoding, parseDate, parseImport } from '../../src/services/people-import.js';

const SJIS_SATO = Uint8Array.from([0x8d, 0xb2, 0x93, 0xa1]); // 佐藤 in Shift_JIS

describe('encodings', () => {
  it('names Shift_JIS the ways HR staff and Windows do', () => {
    for (const name of ['sjis', 'Shift_JIS', 'shift-jis', 'CP932', 'windows-31j', 'MS932']) expect(importEncoding(name)).toBe('shift_jis');
    for (const name of [undefined, '', 'utf8', 'UTF-8']) expect(importEncoding(name)).toBe('utf-8');
    expect(() => importEncoding('latin1')).toThrow(/give utf-8 or sjis/);
  });

  it('decodes Shift_JIS, refuses it read as UTF-8, and reads a BOM as UTF-8 whatever was named', () => {
    expect(decodeImport(SJIS_SATO, 'shift_jis')).toEqual({ text: '佐藤', encoding: 'shift_jis', bom: false });
    expect(() => decodeImport(SJIS_SATO, 'utf-8')).toThrow(/not UTF-8.*--encoding sjis/);
    const bom = Uint8Array.from([0xef, 0xbb, 0xbf, ...Buffer.from('佐藤', 'utf8')]);
    expect(decodeImport(bom, 'shift_jis')).toEqual({ text: '佐藤', encoding: 'utf-8', bom: true });
  });
});

describe('columns and rows', () => {
  it('knows a column by its English or Japanese name, full-width or spaced', () => {
    const p = parseImport(
      'ＳＴＡＦＦ－ＮＵＭＢＥＲ,氏名,所属 部署,カード番号,区域,有効期限,研修日,誓約日,Full Name Kana,備考\n1,Ann,R&D,04,lab,2099/1/1,2026/1/1,2026/1/1,x,y\n',
    );
    expect(p.columns).toEqual(['staffNumber', 'name', 'affiliation', 'card', 'area', 'validUntil', 'trainingDate', 'pledgeDate']);
    expect(p.ignored).toEqual(['Full Name Kana', '備考']);
    expect(p.rows[0]!.cells).toMatchObject({ staffNumber: '1', name: 'Ann', card: '04', area: 'lab' });
  });

  it('refuses a file without the required columns, or with one column twice', () => {
    expect(() => parseImport('name,affiliation\nAnn,R&D\n')).toThrow(/malformed file: no staff_number column/);
    expect(() => parseImport('社員番号,name\n')).not.toThrow();
    expect(() => parseImport('社員番号,staff_number,name\n')).toThrow(/"社員番号" and "staff_number" are the same column/);
    expect(() => parseImport('')).toThrow(/the file is empty/);
  });

  it('numbers rows by the line they start on, and flags a row with the wrong number of cells', () => {
    const p = parseImport('staff_number,name,affiliation\r\n1,Ann,"R&D\r\nsecond floor"\r\n\r\n2,Bob\r\n3,"Cy",Lab\r\n');
    expect(p.rows.map((r) => r.line)).toEqual([2, 5, 6]);
    expect(p.rows[0]!.cells.affiliation).toBe('R&D\r\nsecond floor');
    expect(p.rows[1]!.fieldCount).toBe(2);
    expect(p.rows[2]!.fieldCount).toBeUndefined();
  });

  it('refuses CSV it cannot read, naming the line', () => {
    try {
      parseImport('staff_number,name\n1,Ann\n2,"Bob\n');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toMatch(/^malformed file: /);
      expect((e as { details: { path: string }[] }).details[0]!.path).toMatch(/^line \d+$/);
    }
  });
});

describe('dates', () => {
  it('reads the ways HR systems write a day, and refuses days that do not exist', () => {
    for (const s of ['2026-04-01', '2026/4/1', '2026.4.1', '2026年4月1日', '20260401', '２０２６／４／１'])
      expect(parseDate(s)).toEqual({ y: 2026, m: 4, d: 1 });
    for (const s of ['2026/2/30', '2026/13/1', '令和8年4月1日', 'R8.4.1', '4/1/2026', '']) expect(parseDate(s)).toBeUndefined();
  });
});
