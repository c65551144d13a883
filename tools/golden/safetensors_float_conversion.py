"""Reference bit patterns for packages/core/src/io/float_conversion.ts, computed with PyTorch.

float32 -> bfloat16: tensor.to(torch.bfloat16) (round to nearest even), on hand-picked edge cases and on
200000 pseudo-random float32 bit patterns (xorshift32, seed 2463534242, the same generator the test runs).
float16 -> float32: tensor.to(torch.float32) for all 65536 half bit patterns.
Writes packages/core/test/fixtures/safetensors/float_conversion_golden.json.
Run: /usr/bin/python3 tools/golden/safetensors_float_conversion.py
"""
import hashlib
import json
import pathlib

import numpy as np
import torch


def xorshift32(seed, count):
    state = seed
    out = np.empty(count, dtype=np.uint32)
    for i in range(count):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        out[i] = state
    return out


def to_bf16_bits(float32_bits):
    values = torch.from_numpy(float32_bits.view(np.float32).copy())
    return values.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)


edge_cases = np.array([
    0x00000000, 0x80000000, 0x3F800000, 0xBF800000,  # +-0, +-1
    0x3F808000, 0x3F818000, 0x3F808001, 0x3F807FFF,  # ties to even (down, up), just above, just below a tie
    0x3F80FFFF, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F7FFF,  # carry into exponent, max finite (rounds to inf), just below
    0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,  # +-inf, quiet NaNs
    0x7F800001, 0x7FBFFFFF, 0xFF800001, 0x00000001,  # signalling NaNs, smallest subnormal
    0x00008000, 0x00018000, 0x007FFFFF, 0x00800000,  # subnormal ties, largest subnormal, smallest normal
    0x40490FDB, 0xC0490FDB, 0x3DCCCCCD, 0x4B7FFFFF,  # pi, -pi, 0.1, 2^24 - 1
], dtype=np.uint32)

random_bits = xorshift32(2463534242, 200000)
random_bf16 = to_bf16_bits(random_bits)

half_bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
half_as_float32 = torch.from_numpy(half_bits.view(np.float16).copy()).to(torch.float32).numpy()

fixture = {
    "source": "tools/golden/safetensors_float_conversion.py, torch " + torch.__version__,
    "bf16_edge_inputs": [int(x) for x in edge_cases],
    "bf16_edge_outputs": [int(x) for x in to_bf16_bits(edge_cases)],
    "bf16_random_seed": 2463534242,
    "bf16_random_count": 200000,
    "bf16_random_first": [int(x) for x in random_bits[:4]],
    "bf16_random_sha256": hashlib.sha256(random_bf16.astype('<u2').tobytes()).hexdigest(),
    "f16_all_float32_sha256": hashlib.sha256(half_as_float32.astype('<f4').tobytes()).hexdigest(),
    "f16_samples": {str(b): float(half_as_float32[b]) for b in [0x0001, 0x03FF, 0x0400, 0x3C00, 0x3C01, 0x7BFF, 0xC000, 0x8001, 0x3555]},
}
path = pathlib.Path(__file__).resolve().parents[2] / "packages/core/test/fixtures/safetensors/float_conversion_golden.json"
path.write_text(json.dumps(fixture, indent=2) + "\n")
print(json.dumps(fixture, indent=2))
