import { promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '@rlhfjs/core';
import { goldScore } from './gold_score';
import { makeTaskData, resolveTaskDataConfig, TASK_DATA_FILES, toJsonl } from './task_data';
import { writeTaskData } from './write_task_data';

const small = { sftTrain: 400, sftHeldout: 50, preferenceTrain: 1000, preferenceHeldout: 50, promptTrain: 100, promptHeldout: 50 };

describe('makeTaskData', () => {
  it('is deterministic given the seed and differs between seeds', () => {
    const a = makeTaskData({ ...small, seed: 7 });
    const b = makeTaskData({ ...small, seed: 7 });
    const c = makeTaskData({ ...small, seed: 8 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.sftTrain)).not.toBe(JSON.stringify(c.sftTrain));
  });

  it('gives each split its own stream: changing one size leaves the others unchanged', () => {
    const a = makeTaskData({ ...small, seed: 3 });
    const b = makeTaskData({ ...small, seed: 3, sftTrain: 10 });
    expect(b.preferenceTrain).toEqual(a.preferenceTrain);
    expect(b.sftTrain).toEqual(a.sftTrain.slice(0, 10));
  });

  it('mixes SFT demonstrations of all qualities: a quarter ideal, most correct but curt, a fifth wrong', () => {
    const data = makeTaskData({ ...small, seed: 1 });
    const scores = data.sftTrain.map((record) => goldScore(record.prompt, record.completion));
    const share = (value: number): number => scores.filter((score) => score === value).length / scores.length;
    expect(share(1)).toBeGreaterThan(0.17);
    expect(share(1)).toBeLessThan(0.33);
    expect(share(0.5)).toBeGreaterThan(0.45);
    expect(share(0.5)).toBeGreaterThan(share(1));
    expect(share(0)).toBeGreaterThan(0.12);
    expect(data.summary.sftDemonstrationGold).toBeCloseTo(scores.reduce((x, y) => x + y, 0) / scores.length, 12);
    for (const record of data.sftTrain) expect(record.completion.startsWith(' ')).toBe(true);
  });

  it('labels preference pairs by the gold score, flipping the stated share, never emitting ties', () => {
    const data = makeTaskData({ ...small, seed: 2, labelNoise: 0.2 });
    let flipped = 0;
    for (const record of data.preferenceTrain) {
      const chosen = goldScore(record.prompt, record.chosen);
      const rejected = goldScore(record.prompt, record.rejected);
      expect(chosen).not.toBe(rejected);
      if (chosen < rejected) flipped++;
    }
    expect(flipped).toBe(data.summary.labelNoise.flippedTrain);
    expect(flipped / data.preferenceTrain.length).toBeCloseTo(data.summary.labelNoise.observedTrain, 12);
    expect(data.summary.labelNoise.observedTrain).toBeGreaterThan(0.16);
    expect(data.summary.labelNoise.observedTrain).toBeLessThan(0.24);
    const clean = makeTaskData({ ...small, seed: 2, labelNoise: 0 });
    expect(clean.summary.labelNoise.flippedTrain).toBe(0);
  });

  it('keeps texts short and writes TRL JSONL', async () => {
    const data = makeTaskData({ ...small, seed: 4 });
    // (in tokens, every task text fits 24: task_tokenizer.test.ts)
    for (const record of data.preferenceTrain) expect((record.prompt + record.chosen).length).toBeLessThan(80);
    expect(Object.keys(data.preferenceTrain[0] ?? {})).toEqual(['prompt', 'chosen', 'rejected']);
    expect(Object.keys(data.sftTrain[0] ?? {})).toEqual(['prompt', 'completion']);
    expect(Object.keys(data.promptTrain[0] ?? {})).toEqual(['prompt']);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'task-data-'));
    try {
      await writeTaskData(dir, data);
      const lines = (await fs.readFile(path.join(dir, TASK_DATA_FILES.sftTrain), 'utf8')).trimEnd().split('\n');
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(data.sftTrain);
      expect(JSON.parse(await fs.readFile(path.join(dir, TASK_DATA_FILES.summary), 'utf8'))).toEqual(JSON.parse(JSON.stringify(data.summary)));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
    expect(toJsonl([])).toBe('');
  });

  it('collects every configuration problem', () => {
    try {
      resolveTaskDataConfig({ sftTrain: -1, labelNoise: 0.7, sftStyleWeights: { ideal: -0.1 } });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toHaveLength(3);
    }
  });
});

describe('committed data', () => {
  const dataDir = path.join(__dirname, '..', '..', 'data');
  it('equals a fresh generation with the default seed and is small', async () => {
    const data = makeTaskData({ seed: 0 });
    let total = 0;
    for (const [split, name] of [['sftTrain', TASK_DATA_FILES.sftTrain], ['preferenceHeldout', TASK_DATA_FILES.preferenceHeldout], ['promptHeldout', TASK_DATA_FILES.promptHeldout]] as const) {
      const text = await fs.readFile(path.join(dataDir, name), 'utf8');
      expect(text).toBe(toJsonl(data[split]));
    }
    for (const name of Object.values(TASK_DATA_FILES)) total += (await fs.stat(path.join(dataDir, name))).size;
    expect(total).toBeLessThan(2 * 1024 * 1024);
    const summary = JSON.parse(await fs.readFile(path.join(dataDir, TASK_DATA_FILES.summary), 'utf8')) as { labelNoise: { stated: number } };
    expect(summary.labelNoise.stated).toBe(0.1);
  });
});
