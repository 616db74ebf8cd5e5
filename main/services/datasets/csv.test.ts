/** The CSV header rule ('auto'): the same answer whatever the label column, sound for numeric headers. */
import { describe, expect, it } from 'vitest';
import { detectHeader, guessLabelColumn, resolveLayout, splitLine, suggestImageShape } from './csv';

const rows = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => splitLine(line, ','));
const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line, i) => ({ line: i + 1, text: line }));

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

describe('guessLabelColumn', () => {
  const data = (text: string) => rows(text);

  it('takes the one column holding text, wherever it is', () => {
    const columns = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width', 'species'];
    expect(guessLabelColumn(columns, data('5.1,3.5,1.4,0.2,setosa\n7,3.2,4.7,1.4,versicolor'), true)).toBe(4);
    expect(guessLabelColumn(['kind', 'a', 'b'], data('cat,1,2\ndog,3,4'), true)).toBe(0);
    expect(guessLabelColumn(['column 0', 'column 1', 'column 2'], data('1,bird,2\n3,cat,4'), false)).toBe(1);
  });

  it('else a column named like a label, else the last column', () => {
    expect(guessLabelColumn(['label', 'p0', 'p1'], data('3,0,255\n1,12,0'), true)).toBe(0);
    expect(guessLabelColumn(['x1', 'Target', 'x2'], data('0.5,1,2\n1,0,3'), true)).toBe(1);
    expect(guessLabelColumn(['a', 'b', 'c'], data('0.5,1,2\n1,0,3'), true)).toBe(2);
    expect(guessLabelColumn(['column 0', 'column 1'], data('0.5,1\n1,0'), false)).toBe(1);
    // Two text columns: no single one to pick, so the names decide.
    expect(guessLabelColumn(['name', 'class', 'v'], data('ann,a,1\nbob,b,2'), true)).toBe(1);
  });
});

describe('suggestImageShape', () => {
  const numbered = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

  it('offers a square for pixel-like columns of at least 8×8', () => {
    expect(suggestImageShape(numbered('p', 784), true)).toEqual([28, 28]);
    expect(suggestImageShape(numbered('pixel_', 64), true)).toEqual([8, 8]);
    expect(suggestImageShape(numbered('', 784), true)).toEqual([28, 28]); // pandas' 0, 1, 2, …
    expect(suggestImageShape(numbered('column ', 784), false)).toEqual([28, 28]);
  });

  it('offers nothing for tabular data: too few features, named measurements, or no square', () => {
    expect(suggestImageShape(['sepal_length', 'sepal_width', 'petal_length', 'petal_width'], true)).toBeUndefined();
    expect(suggestImageShape(numbered('column ', 4), false)).toBeUndefined();
    expect(suggestImageShape([...numbered('p', 63), 'age'], true)).toBeUndefined();
    expect(suggestImageShape(numbered('p', 783), true)).toBeUndefined();
  });
});
