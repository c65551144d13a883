import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { nativeInfo } from './native_addon';
import { chooseOpenBlasCoreType, readCpuFlags, selectOpenBlasCoreType } from './openblas_core_type';

const avx512 = ['avx', 'avx2', 'fma', 'avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'];

describe('OpenBLAS kernel family from CPU features', () => {
  it('asks for SkylakeX with AVX-512, Haswell with AVX2+FMA, and leaves older or non-x86 CPUs to OpenBLAS', () => {
    expect(chooseOpenBlasCoreType(new Set(avx512), 'x64')).toBe('SkylakeX');
    expect(chooseOpenBlasCoreType(new Set(['avx', 'avx2', 'fma', 'avx512f']), 'x64')).toBe('Haswell'); // partial AVX-512
    expect(chooseOpenBlasCoreType(new Set(['avx', 'avx2']), 'x64')).toBeNull(); // AVX2 without FMA
    expect(chooseOpenBlasCoreType(new Set(['sse4_2']), 'x64')).toBeNull();
    expect(chooseOpenBlasCoreType(new Set(avx512), 'arm64')).toBeNull();
  });

  it('reads the flags line of a cpuinfo file, and nothing from a missing one', () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhfjs-cpuinfo-'));
    const file = path.join(directory, 'cpuinfo');
    fs.writeFileSync(file, 'processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu avx2  fma\nbugs\t: none\n\nprocessor\t: 1\nflags\t: fpu\n');
    expect([...readCpuFlags(file)]).toEqual(['fpu', 'avx2', 'fma']);
    expect(readCpuFlags(path.join(directory, 'absent')).size).toBe(0);
    fs.rmSync(directory, { recursive: true });
  });

  it('never overrides an OPENBLAS_CORETYPE the environment already sets', () => {
    const environment: NodeJS.ProcessEnv = { OPENBLAS_CORETYPE: 'Sandybridge' };
    expect(selectOpenBlasCoreType(environment)).toBe('environment');
    expect(environment['OPENBLAS_CORETYPE']).toBe('Sandybridge');
    const empty: NodeJS.ProcessEnv = {};
    const source = selectOpenBlasCoreType(empty);
    expect(source === 'cpu-features' ? empty['OPENBLAS_CORETYPE'] : undefined)
      .toBe(chooseOpenBlasCoreType(readCpuFlags()) ?? undefined);
  });

  it('the loaded OpenBLAS runs the kernel family that was chosen', () => {
    const info = nativeInfo();
    if (!info.available) return; // the backend tests fail loudly under CI when the addon is missing
    if (info.openblasCoreSource !== 'openblas-default') {
      expect(info.openblasCore?.toLowerCase()).toBe(process.env['OPENBLAS_CORETYPE']?.toLowerCase());
    }
  });
});
