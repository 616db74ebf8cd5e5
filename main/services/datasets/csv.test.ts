/** The CSV header rule ('auto'): the same answer whatever the label column, sound for numeric headers. */
import { describe, expect, it } from 'vitest';
import { detectHeader, resolveLayout, splitLine } from './csv';

const rows = (text: string) => text.trim().split('\n').map((line) => splitLine(line, ','));
const lines = (text: string) => text.trim().split('\n').map((line, i) => ({ line: i + 1, text: line }));

describe('detectHeader', () => {
  it('a name above a numeric column is a header, the label column included', () => {
    expect(detectHeader(rows('p0,p1,label\n1,2,0\n3,4,1'))).toBe(true);
    // pandas' df.to_csv(index=False) of an unnamed frame plus an integer label column
    expect(detectHeader(rows('0,1,2,label\n0.5,1,2,3\n1,2,3,4'))).toBe(true);
  });

  it('pandas headers over text labels: a label-like name, or the column numbers 0, 1, 2, …', () => {
    expect(detectHeader(rows('0,1,2,label\n0.5,1,2,cat\n1,2,3,dog'))).toBe(true);
    expect(detectHeader(rows('0,1,2,kind\n0.5,1,2,cat\n1,2,3,dog'))).toBe(true);
    expect(detectHeader(rows('kind,0,1\ncat,0.5,1\ndog,1,2'))).toBe(true);
  });

  it('headerless rows are data: all numeric, a recurring class, or a class new on line 1', () => {
    expect(detectHeader(rows('1,2,0\n3,4,1'))).toBe(false);
    expect(detectHeader(rows('0.5,0.25,cat\n1,2,dog\n3,4,cat'))).toBe(false);
    expect(detectHeader(rows('0.5,0.25,bird\n1,2,dog\n3,4,cat'))).toBe(false);
  });

  it('does not depend on the label column: the scan (label 0) and the import (label 2) agree', () => {
    const headerless = lines('0.5,0.25,bird\n1,2,dog\n3,4,cat');
    const withHeader = lines('0,1,label\n1,2,dog\n3,4,cat');
    for (const labelColumn of [0, 1, 2]) {
      expect(resolveLayout('f.csv', headerless, { delimiter: 'auto', header: 'auto', labelColumn }).hasHeader).toBe(false);
      expect(resolveLayout('f.csv', withHeader, { delimiter: 'auto', header: 'auto', labelColumn }).hasHeader).toBe(true);
    }
  });
});
