// The one CSV writer (entry-log export, register of access holders): what a spreadsheet needs.
import { describe, expect, it } from 'vitest';
import { csvFile, csvRows } from '../../src/services/csv.js';

describe('csv writer', () => {
  it('starts with a BOM and ends every row with CRLF', () => {
    expect(csvFile(['氏名', '所属'], [['佐藤 花子', '研究開発部']])).toBe('\ufeff氏名,所属\r\n佐藤 花子,研究開発部\r\n');
    expect(csvRows([])).toBe('');
  });

  it('keeps formulas as text, but not negative numbers', () => {
    const row = csvRows([['=HYPERLINK("http://x")', '+主任', '@Lab', '-1', -1, '\uff1dSUM(A1)', 'a=b']]);
    expect(row).toBe(`"'=HYPERLINK(""http://x"")",'+主任,'@Lab,'-1,-1,'\uff1dSUM(A1),a=b\r\n`);
  });

  it('quotes commas, quotes, line breaks (LF or CR alone too) and edge spaces', () => {
    expect(csvRows([['a,b', 'say "hi"', 'one\ntwo', 'one\rtwo', ' lead', 'trail ', 'in side']])).toBe(
      '"a,b","say ""hi""","one\ntwo","one\rtwo"," lead","trail ",in side\r\n',
    );
  });

  it('writes null and undefined empty, booleans and numbers as words, arrays and objects as JSON', () => {
    expect(csvRows([[null, undefined, '', true, false, 0, 4101, ['card', 'pin'], { i: 4 }]])).toBe(',,,true,false,0,4101,"[""card"",""pin""]","{""i"":4}"\r\n');
  });
});
