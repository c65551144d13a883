"""Reference outputs for packages/core/src/data/rng.ts, written from the algorithm descriptions:

- mulberry32 (Tommy Ettinger): state += 0x6D2B79F5 (mod 2^32); z = state;
  z = (z ^ (z >> 15)) * (z | 1); z ^= z + (z ^ (z >> 7)) * (z | 61); out = z ^ (z >> 14), all mod 2^32.
- nextInt(n): draw uint32 until it is below 2^32 - (2^32 mod n), return draw mod n.
- Fisher-Yates: for last = n-1 down to 1, swap indices[last] with indices[nextInt(last + 1)].

Run: /usr/bin/python3 tools/golden/data_rng.py > packages/core/test/fixtures/data/rng_golden.json
"""
import json

MASK = 0xFFFFFFFF


class Mulberry32:
    def __init__(self, seed):
        self.state = seed & MASK

    def next_uint32(self):
        self.state = (self.state + 0x6D2B79F5) & MASK
        z = self.state
        z = ((z ^ (z >> 15)) * (z | 1)) & MASK
        z = (z ^ (z + (((z ^ (z >> 7)) * (z | 61)) & MASK))) & MASK
        return (z ^ (z >> 14)) & MASK

    def next_int(self, n):
        limit = 2**32 - (2**32 % n)
        while True:
            draw = self.next_uint32()
            if draw < limit:
                return draw % n


def shuffle(n, rng):
    indices = list(range(n))
    for last in range(n - 1, 0, -1):
        pick = rng.next_int(last + 1)
        indices[last], indices[pick] = indices[pick], indices[last]
    return indices


def main():
    out = {"uint32": {}, "shuffle": {}}
    for seed in [0, 1, 42, 4294967295]:
        rng = Mulberry32(seed)
        out["uint32"][str(seed)] = [rng.next_uint32() for _ in range(6)]
    for seed, n in [(7, 10), (2024, 25)]:
        out["shuffle"][f"{seed}:{n}"] = shuffle(n, Mulberry32(seed))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
