// Which OpenBLAS kernel family to ask for. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not know newer Xeons
// (Sapphire Rapids and later) and falls back to its generic "Prescott" kernels: 1024³ sgemm at 41 GFLOP/s instead
// of ~200 with "SkylakeX" on the same core (DESIGN.md, performance notes). OpenBLAS reads OPENBLAS_CORETYPE once,
// when the library loads, so the choice is made before the addon is required.
import * as fs from 'fs';

/** Where the kernel family in use came from. */
export type OpenBlasCoreTypeSource = 'environment' | 'cpu-features' | 'openblas-default';

/**
 * The OPENBLAS_CORETYPE for an x86-64 CPU with these /proc/cpuinfo flags, or null to let OpenBLAS decide
 * (other architectures, or CPUs without AVX2/FMA where its own detection is reliable).
 */
export function chooseOpenBlasCoreType(flags: ReadonlySet<string>, architecture: string = process.arch): string | null {
  if (architecture !== 'x64') return null;
  const has = (...names: string[]): boolean => names.every((name) => flags.has(name));
  // SkylakeX kernels use AVX-512 F/CD/BW/DQ/VL (OpenBLAS's own test for that family in cpuid_x86.c).
  if (has('avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl')) return 'SkylakeX';
  if (has('avx2', 'fma')) return 'Haswell';
  return null;
}

/** The flags of the first processor in /proc/cpuinfo (empty when unreadable, e.g. not Linux). */
export function readCpuFlags(cpuinfoPath = '/proc/cpuinfo'): Set<string> {
  let text: string;
  try {
    text = fs.readFileSync(cpuinfoPath, 'utf8');
  } catch {
    return new Set();
  }
  const line = text.split('\n').find((entry) => /^flags\s*:/.test(entry));
  if (line === undefined) return new Set();
  return new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/).filter((flag) => flag !== ''));
}

/**
 * Sets OPENBLAS_CORETYPE from the CPU's features unless the environment already sets it (older OpenBLAS builds
 * miscompute on some CPUs, so a user's choice is always respected). Must run before OpenBLAS is loaded.
 */
export function selectOpenBlasCoreType(environment: NodeJS.ProcessEnv = process.env): OpenBlasCoreTypeSource {
  const existing = environment['OPENBLAS_CORETYPE'];
  if (existing !== undefined && existing !== '') return 'environment';
  const choice = chooseOpenBlasCoreType(readCpuFlags());
  if (choice === null) return 'openblas-default';
  environment['OPENBLAS_CORETYPE'] = choice;
  return 'cpu-features';
}
