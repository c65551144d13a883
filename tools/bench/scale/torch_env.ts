// The environment the PyTorch side of the benchmarks runs in, so that it runs at its best on these machines.
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';

export const PYTHON = '/usr/bin/python3';

/** Whether Debian's python3-torch (or any torch) is importable by PYTHON. */
export function torchAvailable(): boolean {
  return spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
}

/** OpenBLAS picks its generic Prescott kernels on AVX-512 Xeons unless told (DESIGN.md): choose from the CPU flags. */
export function openBlasCoreType(): string | undefined {
  if (process.env['OPENBLAS_CORETYPE'] !== undefined) return process.env['OPENBLAS_CORETYPE'];
  let flags = '';
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((line) => line.startsWith('flags')) ?? '';
  } catch {
    return undefined;
  }
  if (/\bavx512f\b/.test(flags)) return 'SkylakeX';
  if (/\bavx2\b/.test(flags)) return 'Haswell';
  return undefined;
}

/**
 * PyTorch at its best here: OpenBLAS's AVX-512 kernels (Debian's torch 1.13 calls the system libblas, OpenBLAS), and
 * OpenMP threads that sleep instead of spinning between regions (on a shared 2-core machine spinning OpenMP workers
 * and OpenBLAS's pthreads fight: a GPT-2 forward is ~3× slower). Settings the caller made are kept.
 */
export function torchEnvironment(): NodeJS.ProcessEnv {
  const coreType = openBlasCoreType();
  return {
    ...process.env,
    ...(coreType === undefined ? {} : { OPENBLAS_CORETYPE: coreType }),
    OMP_WAIT_POLICY: process.env['OMP_WAIT_POLICY'] ?? 'PASSIVE',
  };
}

/** One line naming torch's version, its BLAS and the settings above. */
export function describeTorch(): string {
  const info = spawnSync(PYTHON, ['-c', 'import re, torch; print(torch.__version__, "BLAS_INFO=" + ",".join(re.findall(r"BLAS_INFO=(\\w+)", torch.__config__.show())))'], { encoding: 'utf8' }).stdout.trim();
  const linked = spawnSync('sh', ['-c', 'readlink -f /usr/lib/$(uname -m)-linux-gnu/libblas.so.3 2>/dev/null'], { encoding: 'utf8' }).stdout.trim();
  const env = torchEnvironment();
  return `torch ${info}; libblas.so.3 → ${linked || '?'}; OPENBLAS_CORETYPE=${env['OPENBLAS_CORETYPE'] ?? '(unset)'}, OMP_WAIT_POLICY=${env['OMP_WAIT_POLICY']}, torch.set_num_threads(2)`;
}
