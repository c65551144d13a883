/** A small seeded generator (mulberry32) so every run of the suite builds the same cases. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)] as T;
  }
}

/** Hostile JSON values to put where a well-formed one was. */
export const HOSTILE_VALUES: readonly unknown[] = [
  null, -1, 0, 1.5, 1e308, -1e308, 2 ** 53 + 2, '', 'x', '\u0000', '\ud800', [], {}, [null], { a: null }, true, false,
  'a'.repeat(4096), [[[[[[[[[[[]]]]]]]]]]], JSON.parse('{"__proto__":{"polluted":true}}') as unknown, { constructor: 'x' }, '../../etc/passwd',
];

/** `value` with one node (picked at random, the root excluded) replaced by a hostile value; `path` says which. */
export function mutateJson(value: unknown, random: Random): { value: unknown; path: string } {
  const paths: Array<Array<string | number>> = [];
  const walk = (node: unknown, at: Array<string | number>, depth: number): void => {
    if (at.length > 0) paths.push(at);
    if (depth > 6 || typeof node !== 'object' || node === null) return;
    const entries = Array.isArray(node) ? node.map((item, index) => [index, item] as const) : Object.entries(node);
    // Long arrays (a vocabulary, merges) are sampled, not walked in full.
    const step = Math.max(1, Math.floor(entries.length / 50));
    for (let index = 0; index < entries.length; index += step) {
      const [key, child] = entries[index] as readonly [string | number, unknown];
      walk(child, [...at, key], depth + 1);
    }
  };
  walk(value, [], 0);
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  if (paths.length === 0) return { value: random.pick(HOSTILE_VALUES), path: '$' };
  const path = random.pick(paths);
  const replacement = random.pick(HOSTILE_VALUES);
  let node = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (random.below(4) === 0 && !Array.isArray(node)) delete node[last];
  else node[last] = replacement;
  return { value: copy, path: `$.${path.join('.')}` };
}

/** `bytes` with one byte changed, a range cut out, or the end cut off, within `[from, to)`. */
export function mutateBytes(bytes: Uint8Array, random: Random, from = 0, to = bytes.length): { bytes: Uint8Array; what: string } {
  const at = from + random.below(Math.max(1, to - from));
  switch (random.below(4)) {
    case 0: {
      const copy = Uint8Array.from(bytes);
      const value = random.pick([0x00, 0xff, 0x22, 0x7b, 0x7d, 0x2c, 0x30, 0x39, 0x2d, 0x80, 0xc0, 0x0a]);
      copy[at] = value;
      return { bytes: copy, what: `byte ${at} := 0x${value.toString(16)}` };
    }
    case 1: {
      const length = 1 + random.below(16);
      return { bytes: Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + length)]), what: `cut ${length} bytes at ${at}` };
    }
    case 2:
      return { bytes: bytes.subarray(0, at), what: `truncated at ${at}` };
    default: {
      const copy = Uint8Array.from(bytes);
      copy[at] = (copy[at] as number) ^ (1 << random.below(8));
      return { bytes: copy, what: `bit flip at byte ${at}` };
    }
  }
}
