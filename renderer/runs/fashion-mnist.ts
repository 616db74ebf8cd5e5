/** Fashion-MNIST's labels, for when an evaluation does not name them, and short forms for narrow columns. */
export const fashionMnistClasses = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export function shortClassName(name: string): string {
  const short: Record<string, string> = { 'T-shirt/top': 'T-shirt', 'Ankle boot': 'Boot', Pullover: 'Pullov.' };
  return short[name] ?? name;
}
