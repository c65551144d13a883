import * as tf from '@tensorflow/tfjs';
import { parseRopeConfig, type RopeConfig } from './rope_config';
import { ropeFrequencies, ropeTables } from './rope';

function rope(parameters: Record<string, unknown>, maxPositions = 64, headDim = 8): RopeConfig {
  const problems: string[] = [];
  const config = parseRopeConfig({ rope_parameters: parameters }, { maxPositions, headDim, defaultTheta: 10000 }, problems);
  expect(problems).toEqual([]);
  return config;
}

describe('ropeFrequencies (analytic cases of modeling_rope_utils)', () => {
  it('default is θ^(−2i/d); linear divides every frequency by the factor', () => {
    const base = ropeFrequencies(rope({ rope_type: 'default', rope_theta: 100 }), 4, 1);
    expect(Array.from(base.inverseFrequencies)).toEqual([1, 0.1]);
    const linear = ropeFrequencies(rope({ rope_type: 'linear', rope_theta: 100, factor: 4 }), 4, 1);
    expect(Array.from(linear.inverseFrequencies)).toEqual([0.25, 0.025]);
  });

  it('dynamic keeps the default frequencies up to max_position_embeddings and grows the base past it', () => {
    const config = rope({ rope_type: 'dynamic', rope_theta: 100, factor: 2 }, 8, 4);
    expect(Array.from(ropeFrequencies(config, 4, 8).inverseFrequencies)).toEqual([1, 0.1]);
    // seq 16: base = 100 · (2·16/8 − 1)^(4/2) = 900
    const grown = ropeFrequencies(config, 4, 16).inverseFrequencies;
    expect(grown[1]).toBeCloseTo(1 / 30, 14);
  });

  it('llama3 keeps short wavelengths, divides long ones and smooths between', () => {
    // wavelengths 2π, 20π, 200π, 2000π against high 16, low 64 (original 64, low 1, high 4)
    const frequencies = ropeFrequencies(rope({ rope_type: 'llama3', rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 }, 256), 8, 1).inverseFrequencies;
    expect(frequencies[0]).toBe(1);
    const smooth = (64 / (20 * Math.PI) - 1) / 3;
    expect(frequencies[1]).toBeCloseTo((1 - smooth) * 0.0125 + smooth * 0.1, 14);
    expect(frequencies[2]).toBeCloseTo(0.01 / 8, 16);
    expect(frequencies[3]).toBeCloseTo(0.001 / 8, 16);
  });

  it('yarn scales cos and sin by 0.1·ln(factor) + 1', () => {
    expect(ropeFrequencies(rope({ rope_type: 'yarn', rope_theta: 10000, factor: 4, original_max_position_embeddings: 16 }), 8, 1).attentionScaling).toBeCloseTo(0.1 * Math.log(4) + 1, 14);
  });
});

describe('ropeTables', () => {
  it('dynamic tables depend on the largest position; no tensors leak', () => {
    const config = rope({ rope_type: 'dynamic', rope_theta: 100, factor: 2 }, 4, 4);
    const short = tf.tensor2d([[0, 1, 2, 3]], undefined, 'int32');
    const long = tf.tensor2d([[0, 1, 2, 3, 4, 5, 6, 7]], undefined, 'int32');
    const before = tf.memory().numTensors;
    const a = ropeTables(short, 4, config);
    const b = ropeTables(long, 4, config);
    expect(tf.memory().numTensors).toBe(before + 4);
    const angleShort = Math.acos(a.cos.arraySync()[0]?.[0]?.[3]?.[1] as number); // position 3, frequency 1
    const angleLong = Math.acos(b.cos.arraySync()[0]?.[0]?.[3]?.[1] as number);
    expect(angleShort).toBeCloseTo(0.3, 5);
    expect(angleLong).toBeLessThan(0.29);
    tf.dispose([a.cos, a.sin, b.cos, b.sin, short, long]);
    expect(tf.memory().numTensors).toBe(before - 2);
  });
});
