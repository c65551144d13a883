/** |actual − expected| ≤ 1e-5 · max(1, |expected|), element by element; the message names the element. */
export function expectClose(actual: ArrayLike<number>, expected: readonly number[], label: string): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((value, index) => {
    const got = actual[index] as number;
    if (!(Math.abs(got - value) <= 1e-5 * Math.max(1, Math.abs(value)))) {
      throw new Error(`${label}[${index}]: expected ${value}, got ${got}`);
    }
  });
}
