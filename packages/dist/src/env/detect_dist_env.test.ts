import { ConfigError } from '@rlhfjs/core';
import { detectDistEnv } from './detect_dist_env';
import { expandSlurmNodelist } from './slurm_nodelist';

describe('expandSlurmNodelist', () => {
  it('expands ranges, lists, zero padding and several groups', () => {
    expect(expandSlurmNodelist('node[01-04,07]')).toEqual(['node01', 'node02', 'node03', 'node04', 'node07']);
    expect(expandSlurmNodelist('gpu-a[9-10],login')).toEqual(['gpu-a9', 'gpu-a10', 'login']);
    expect(expandSlurmNodelist('r[1-2]-n[1-2]')).toEqual(['r1-n1', 'r1-n2', 'r2-n1', 'r2-n2']);
    expect(() => expandSlurmNodelist('node[3-1]')).toThrow(ConfigError);
  });
});

describe('detectDistEnv', () => {
  it('is a single process without any launcher variables', () => {
    const env = detectDistEnv({});
    expect(env).toMatchObject({ source: 'single', rank: 0, worldSize: 1, localRank: 0, localWorldSize: 1, masterAddr: '127.0.0.1', masterPort: 29500, restartCount: 0 });
    expect(Object.isFrozen(env)).toBe(true);
  });

  it('reads torchrun (also --no-python), including the elastic run id and restart count', () => {
    const env = detectDistEnv({
      RANK: '3', WORLD_SIZE: '8', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'n0', MASTER_PORT: '1234',
      TORCHELASTIC_RUN_ID: 'job7', TORCHELASTIC_RESTART_COUNT: '2', GROUP_RANK: '1',
    });
    expect(env).toEqual({ source: 'torchrun', rank: 3, worldSize: 8, localRank: 1, localWorldSize: 2, masterAddr: 'n0', masterPort: 1234, runId: 'job7', restartCount: 2 });
  });

  it('reports our launcher and Kubeflow PyTorchJob (PET_* variables) as such', () => {
    const base = { RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: 'pytorchjob-master-0', MASTER_PORT: '23456' };
    expect(detectDistEnv({ ...base, RLHFJS_LAUNCHER: 'rlhfjs-run', RLHFJS_RUN_ID: 'r' }).source).toBe('rlhfjs-run');
    const kubeflow = detectDistEnv({ ...base, PET_NNODES: '2', PET_NPROC_PER_NODE: '1' });
    // Kubeflow without torchrun in the pod: one process per pod.
    expect(kubeflow).toMatchObject({ source: 'kubeflow', rank: 1, worldSize: 2, localRank: 0, localWorldSize: 1, masterAddr: 'pytorchjob-master-0' });
  });

  it('reads Slurm, with the master from the first host of the node list', () => {
    const env = detectDistEnv({
      SLURM_PROCID: '5', SLURM_NTASKS: '8', SLURM_LOCALID: '1', SLURM_NTASKS_PER_NODE: '2(x4)',
      SLURM_JOB_NODELIST: 'gpu[07-10]', SLURM_JOB_ID: '4242', SLURM_RESTART_COUNT: '1',
    });
    expect(env).toMatchObject({ source: 'slurm', rank: 5, worldSize: 8, localRank: 1, localWorldSize: 2, masterAddr: 'gpu07', masterPort: 29500, runId: '4242.0', restartCount: 1 });
    expect(detectDistEnv({ SLURM_PROCID: '0', SLURM_NTASKS: '2', SLURM_LOCALID: '0', SLURM_TASKS_PER_NODE: '1(x2)', SLURM_NODELIST: 'a,b', MASTER_ADDR: 'm' }).masterAddr).toBe('m');
  });

  it('reads Open MPI; one node needs no MASTER_ADDR', () => {
    const env = detectDistEnv({ OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_LOCAL_RANK: '2', OMPI_COMM_WORLD_LOCAL_SIZE: '4' });
    expect(env).toMatchObject({ source: 'openmpi', rank: 2, worldSize: 4, localRank: 2, localWorldSize: 4, masterAddr: '127.0.0.1' });
  });

  it('collects every inconsistency into one ConfigError', () => {
    let caught: unknown;
    try {
      detectDistEnv({ RANK: '4', WORLD_SIZE: '4', LOCAL_RANK: 'x', LOCAL_WORLD_SIZE: '2', MASTER_PORT: '70000' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const problems = (caught as ConfigError).problems.join('\n');
    expect(problems).toMatch(/RANK=4 must be < WORLD_SIZE=4/);
    expect(problems).toMatch(/LOCAL_RANK must be an integer/);
    expect(problems).toMatch(/MASTER_ADDR is not set/);
    expect(problems).toMatch(/MASTER_PORT must be <= 65535/);
  });
});
