/**
 * Turns the labels an import meets (CSV cells, IDX bytes, folder names) into class indices.
 * Classes are only known once every sample is read, so samples keep a provisional key id and are
 * remapped at the end: integer labels sort numerically ("2" < "10"), text labels by code point.
 */
const INTEGER = /^[+-]?\d+$/;

export interface LabelMapping {
  classNames: string[];
  /** Class index of every sample, in sample order. */
  labels: Int32Array;
  /** Samples per class, in class order. */
  classCounts: number[];
}

export class LabelCollector {
  private readonly keyIds = new Map<string, number>();
  private readonly keys: string[] = [];
  private ids = new Int32Array(1024);
  private size = 0;

  get count(): number {
    return this.size;
  }

  add(key: string): void {
    let id = this.keyIds.get(key);
    if (id === undefined) {
      id = this.keys.length;
      this.keyIds.set(key, id);
      this.keys.push(key);
    }
    if (this.size === this.ids.length) {
      const grown = new Int32Array(this.ids.length * 2);
      grown.set(this.ids);
      this.ids = grown;
    }
    this.ids[this.size++] = id;
  }

  /** The final classes. Integer keys that differ only in spelling ("7", "07", "+7") are one class. */
  finish(): LabelMapping {
    const numeric = this.keys.length > 0 && this.keys.every((key) => INTEGER.test(key));
    const nameOf = (key: string) => (numeric ? String(Number(key)) : key);
    const classNames = [...new Set(this.keys.map(nameOf))].sort(numeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const classIndex = new Map(classNames.map((name, index) => [name, index]));
    const keyToClass = Int32Array.from(this.keys, (key) => classIndex.get(nameOf(key))!);
    const labels = new Int32Array(this.size);
    const classCounts = new Array<number>(classNames.length).fill(0);
    for (let i = 0; i < this.size; i++) {
      const label = keyToClass[this.ids[i]];
      labels[i] = label;
      classCounts[label]++;
    }
    return { classNames, labels, classCounts };
  }
}
