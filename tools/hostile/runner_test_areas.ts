import type { HostileArea, HostileCase } from './hostile_area';

/** Areas whose cases misbehave on purpose, to test that the runner tells each kind of failure apart. */
const misbehaving: HostileArea = {
  name: 'misbehaving',
  cases: (): HostileCase[] => [
    { name: 'refused with a typed error', expect: 'refuse', files: { 'a.txt': 'x' } },
    { name: 'spins for ever', expect: 'refuse', files: {} },
    { name: 'throws a TypeError', expect: 'refuse', files: {} },
    { name: 'accepts a hostile input', expect: 'refuse', files: {} },
    { name: 'allocates without bound', expect: 'refuse', files: {} },
    { name: 'refuses a valid input', expect: 'accept', files: {} },
    { name: 'reads back something else', expect: 'either', files: {} },
    { name: 'accepts a valid input', expect: 'accept', files: {} },
  ],
  async attempt(directory, hostileCase) {
    const { ConfigError } = await import('@rlhfjs/core');
    switch (hostileCase.name) {
      case 'refused with a typed error':
      case 'refuses a valid input':
        throw new ConfigError('misbehaving', [`refused ${directory}`]);
      case 'spins for ever':
        for (;;) {
          // a hang that never yields to the event loop
        }
      case 'throws a TypeError':
        return (null as unknown as { x: string[] }).x;
      case 'allocates without bound': {
        const hoard: number[][] = [];
        for (;;) hoard.push(new Array<number>(1 << 20).fill(1));
      }
      case 'reads back something else':
        return ['read 3 records of 4'];
      default:
        return [];
    }
  },
};

export const AREAS: readonly HostileArea[] = [misbehaving];
