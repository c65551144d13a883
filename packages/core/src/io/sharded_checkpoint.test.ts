import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError, ConfigError } from '../errors/errors';
import { readSafetensors } from './safetensors_reader';
import { writeSafetensors, type WritableTensor } from './safetensors_writer';
import { readCheckpointTensors, writeShardedSafetensors } from './sharded_checkpoint';

let root: string;
let counter = 0;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlhfjs-sharded-'));
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function freshDirectory(): Promise<string> {
  const directory = path.join(root, `case-${counter++}`);
  await fs.mkdir(directory);
  return directory;
}

function filled(length: number, start: number): Float32Array {
  return Float32Array.from({ length }, (_, index) => start + index);
}

/** 40 + 40 + 16 + 80 + 8 bytes of F32 data, in this insertion order. */
function sampleTensors(): Map<string, WritableTensor> {
  return new Map<string, WritableTensor>([
    ['model.embed_tokens.weight', { data: filled(10, 0), shape: [2, 5] }],
    ['model.layers.0.mlp.weight', { data: filled(10, 100), shape: [10] }],
    ['model.layers.0.ids', { data: Int32Array.from([1, 2, 3, 4]), shape: [4] }],
    ['model.layers.1.mlp.weight', { data: filled(20, 200), shape: [4, 5] }],
    ['lm_head.weight', { data: filled(2, 300), shape: [2] }],
  ]);
}

describe('writeShardedSafetensors + readCheckpointTensors', () => {
  it('splits greedily in insertion order into HF-named shards with a sorted index', async () => {
    const directory = await freshDirectory();
    const written = await writeShardedSafetensors(directory, sampleTensors(), { maxShardBytes: 96 });
    // 40+40 = 80 ≤ 96; +16 = 96 ≤ 96; +80 > 96 → new shard; 80 + 8 = 88 ≤ 96.
    expect(written).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    expect((await fs.readdir(directory)).sort()).toEqual([...written].sort());
    const indexText = await fs.readFile(path.join(directory, 'model.safetensors.index.json'), 'utf8');
    expect(indexText).toBe(
      `${JSON.stringify(
        {
          metadata: { total_size: 184 },
          weight_map: {
            'lm_head.weight': 'model-00002-of-00002.safetensors',
            'model.embed_tokens.weight': 'model-00001-of-00002.safetensors',
            'model.layers.0.ids': 'model-00001-of-00002.safetensors',
            'model.layers.0.mlp.weight': 'model-00001-of-00002.safetensors',
            'model.layers.1.mlp.weight': 'model-00002-of-00002.safetensors',
          },
        },
        null,
        2,
      )}\n`,
    );
    const shard = await readSafetensors(path.join(directory, 'model-00002-of-00002.safetensors'));
    expect(shard.metadata).toEqual({ format: 'pt' });
    expect([...shard.tensors.keys()]).toEqual(['lm_head.weight', 'model.layers.1.mlp.weight']);

    const tensors = await readCheckpointTensors(directory);
    expect(tensors.size).toBe(5);
    for (const [name, { data, shape }] of sampleTensors()) {
      expect(Array.from(tensors.get(name)?.data ?? [])).toEqual(Array.from(data));
      expect(tensors.get(name)?.shape).toEqual(shape);
    }
    const some = await readCheckpointTensors(directory, { names: (name) => name.includes('mlp') });
    expect([...some.keys()].sort()).toEqual(['model.layers.0.mlp.weight', 'model.layers.1.mlp.weight']);
  });

  it('gives a tensor larger than the limit a shard of its own', async () => {
    const directory = await freshDirectory();
    const written = await writeShardedSafetensors(directory, sampleTensors(), { maxShardBytes: 30 });
    expect(written.filter((name) => name.endsWith('.safetensors'))).toHaveLength(5);
    expect((await readCheckpointTensors(directory)).size).toBe(5);
  });

  it('writes a single model.safetensors when everything fits, and removes the shards of an earlier save', async () => {
    const directory = await freshDirectory();
    await writeShardedSafetensors(directory, sampleTensors(), { maxShardBytes: 96 });
    await fs.writeFile(path.join(directory, 'config.json'), '{}');
    expect(await writeShardedSafetensors(directory, sampleTensors())).toEqual(['model.safetensors']);
    expect((await fs.readdir(directory)).sort()).toEqual(['config.json', 'model.safetensors']);
    expect((await readCheckpointTensors(directory)).size).toBe(5);
    // And back to shards: the single file goes, since it would shadow the index.
    await writeShardedSafetensors(directory, sampleTensors(), { maxShardBytes: 96 });
    expect(await fs.readdir(directory)).not.toContain('model.safetensors');
  });

  it('collects every bad option into one ConfigError', async () => {
    const directory = await freshDirectory();
    const error = await writeShardedSafetensors(directory, sampleTensors(), {
      maxShardBytes: 0,
      weightsName: '../model.bin',
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(2);
  });
});

describe('readCheckpointTensors on bad directories', () => {
  async function shardedWithIndex(index: unknown): Promise<string> {
    const directory = await freshDirectory();
    await writeSafetensors(path.join(directory, 'model-00001-of-00001.safetensors'), {
      a: { data: Float32Array.from([1]), shape: [1] },
    });
    const text = typeof index === 'string' ? index : JSON.stringify(index);
    await fs.writeFile(path.join(directory, 'model.safetensors.index.json'), text);
    return directory;
  }

  const cases: Array<[string, unknown, string[]]> = [
    ['a shard path escaping the directory', { weight_map: { a: '../model-00001-of-00001.safetensors' } }, ['"a"', '../model-00001']],
    ['an absolute shard path', { weight_map: { a: path.join(os.tmpdir(), 'x.safetensors') } }, ['"a"', 'not a plain file name']],
    ['a shard in a subdirectory', { weight_map: { a: 'sub/x.safetensors' } }, ['"a"', 'sub/x.safetensors']],
    ['a Windows drive path', { weight_map: { a: 'C:x.safetensors' } }, ['"a"', 'C:x.safetensors']],
    ['a missing shard', { weight_map: { a: 'model-00002-of-00002.safetensors' } }, ['model-00002-of-00002.safetensors', 'missing']],
    [
      'a tensor missing from its shard',
      { weight_map: { a: 'model-00001-of-00001.safetensors', b: 'model-00001-of-00001.safetensors' } },
      ['"b"', 'model-00001-of-00001.safetensors', 'does not hold it'],
    ],
    ['a weight_map that is not an object', { weight_map: ['a'] }, ['weight_map']],
    ['an index that is not JSON', '{"weight_map": ', ['not valid JSON']],
    ['an index repeating a tensor', '{"weight_map":{"a":"x.safetensors","a":"model-00001-of-00001.safetensors"}}', ['repeats the key "a"']],
    ['a non-string shard name', { weight_map: { a: 3 } }, ['"a"', 'shard 3']],
  ];

  it.each(cases)('rejects %s', async (_, index, mentions) => {
    const directory = await shardedWithIndex(index);
    const error = await readCheckpointTensors(directory).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckpointError);
    const message = (error as Error).message;
    expect(message).toContain(directory);
    for (const mention of mentions) expect(message).toContain(mention);
  });

  it('reports a directory without weights as CHECKPOINT_NOT_FOUND', async () => {
    const error = await readCheckpointTensors(await freshDirectory()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as CheckpointError).code).toBe('CHECKPOINT_NOT_FOUND');
  });

  it('passes on a malformed shard’s error, naming the shard', async () => {
    const directory = await shardedWithIndex({ weight_map: { a: 'model-00001-of-00001.safetensors' } });
    await fs.writeFile(path.join(directory, 'model-00001-of-00001.safetensors'), Buffer.alloc(7));
    const error = await readCheckpointTensors(directory).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toContain(path.join(directory, 'model-00001-of-00001.safetensors'));
  });
});
