#!/usr/bin/env python3
"""Golden fixture for @rlhfjs/lora 4-bit quantization (bitsandbytes NF4 / FP4, blockwise, nested absmax).

An independent reference written from the bitsandbytes sources (bitsandbytes-foundation/bitsandbytes):
  - bitsandbytes/functional.py: get_4bit_type (tables), create_dynamic_map, quantize_4bit (nested: offset = mean,
    quantize_blockwise(absmax - offset, blocksize=256)), dequantize_4bit / dequantize_blockwise (+ offset),
  - csrc/kernels.cu (== csrc/cuda/blockwise_quantization.cu): kQuantizeBlockwise (absmax = max|x|,
    x * (1.0f / absmax), zero-filled tail, first value in the high nibble), dQuantizeNF4 / dQuantizeFP4
    decision trees (float literals, strict '>'), dQuantize<0> (8-bit binary search), kDequantizeBlockwise.
bitsandbytes itself cannot be installed here, so instead of the trees this script quantizes by counting how
many of the kernel's (float32-rounded) thresholds a value exceeds, which is what a strict-'>' search over sorted
thresholds computes. Everything is float32 numpy arithmetic; torch is used only for create_dynamic_map so that
torch.linspace's float32 rounding is the real one.

Run:  /usr/bin/python3 tools/golden/quant4bit.py  -> packages/lora/test/fixtures/quant/quant4bit.json
"""
import base64
import json
import os

import numpy as np
import torch

F = np.float32

# ---- tables (functional.py get_4bit_type) ----
NF4 = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
], dtype=F)
FP4 = (np.array([0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0.0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0],
                dtype=F) / F(12.0)).astype(F)

# ---- thresholds: the C float literals of dQuantizeNF4 / dQuantizeFP4, sorted ascending ----
NF4_THRESHOLDS = np.array(sorted([
    -0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544, -0.23460740596055984,
    -0.13791173323988914, -0.045525018125772476, 0.03979014977812767, 0.1202552504837513, 0.2035212516784668,
    0.2920137718319893, 0.3893125355243683, 0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
]), dtype=F)
FP4_MAG_THRESHOLDS = np.array([0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333],
                              dtype=F)
# FP4 magnitude codes in increasing value order: 0, 0.0625, 2, 3, 4, 6, 8, 12 (x 1/12)
FP4_CODES_BY_MAGNITUDE = [0b000, 0b001, 0b110, 0b111, 0b100, 0b101, 0b010, 0b011]

# sanity: NF4 thresholds are the midpoints of adjacent NF4 codes; FP4 codes sorted by magnitude
assert np.all(np.abs(NF4_THRESHOLDS.astype(np.float64) -
                     (NF4[:-1].astype(np.float64) + NF4[1:].astype(np.float64)) / 2) < 1e-7)
assert np.all(np.diff(FP4[FP4_CODES_BY_MAGNITUDE]) > 0)


def code_nf4(x):
    # NaN compares false everywhere -> 0 thresholds exceeded -> code 0, as the tree
    return int(np.sum(x > NF4_THRESHOLDS))


def code_fp4(x):
    sign = 0b1000 if x < 0 else 0
    magnitude = F(abs(x))
    return FP4_CODES_BY_MAGNITUDE[int(np.sum(magnitude > FP4_MAG_THRESHOLDS))] | sign


def create_dynamic_map():
    data = []
    max_exponent_bits, non_sign_bits = 7, 7
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    assert len(data) == 256
    data.sort()
    return np.array(data, dtype=F)


def dquantize8(code, x):
    """dQuantize<0>: binary search from pivot 127, then the midpoint decision."""
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = F(-1.0), F(1.0)
    val = code[pivot]
    step = 64
    while step > 0:
        if x > val:
            lower_pivot, lower, pivot = pivot, val, pivot + step
        else:
            upper_pivot, upper, pivot = pivot, val, pivot - step
        val = code[pivot]
        step //= 2
    if upper_pivot == 255:
        upper = code[255]
    if lower_pivot == 0:
        lower = code[0]
    if x > val:
        return upper_pivot if x > F(F(upper + val) * F(0.5)) else pivot
    return lower_pivot if x < F(F(lower + val) * F(0.5)) else pivot


def block_absmax(values, block_size):
    n_blocks = -(-len(values) // block_size)
    return np.array([np.max(np.abs(values[b * block_size:(b + 1) * block_size])) for b in range(n_blocks)], dtype=F)


def quantize_4bit(values, quant_type, block_size):
    values = values.astype(F)
    n = len(values)
    absmax = block_absmax(values, block_size)
    padded = np.concatenate([values, np.zeros(n % 2, dtype=F)])
    codes = []
    with np.errstate(divide='ignore', invalid='ignore'):
        for i, v in enumerate(padded):
            recip = F(F(1.0) / absmax[i // block_size])
            x = F(v * recip)
            codes.append(code_nf4(x) if quant_type == 'nf4' else code_fp4(x))
    packed = [(codes[2 * k] << 4) | codes[2 * k + 1] for k in range(len(codes) // 2)]
    return packed, absmax


def nested(absmax):
    offset = F(np.mean(absmax.astype(np.float64)))
    centred = (absmax - offset).astype(F)
    code = create_dynamic_map()
    scale = block_absmax(centred, 256)
    q = []
    with np.errstate(divide='ignore', invalid='ignore'):
        for i, v in enumerate(centred):
            q.append(dquantize8(code, F(v * F(F(1.0) / scale[i // 256]))))
    q = np.array(q, dtype=np.int64)
    decoded = np.array([F(F(code[qi] * scale[i // 256]) + offset) for i, qi in enumerate(q)], dtype=F)
    return offset, q, scale, decoded, code


def dequantize_4bit(packed, absmax, quant_type, block_size, n):
    table = NF4 if quant_type == 'nf4' else FP4
    out = np.zeros(n, dtype=F)
    for i in range(n):
        byte = packed[i // 2]
        c = byte >> 4 if i % 2 == 0 else byte & 0xF
        out[i] = F(table[c] * absmax[i // block_size])
    return out


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype='<f4').tobytes()).decode('ascii')


def floats(array):
    return [float(v) for v in np.asarray(array, dtype=F)]


def crafted(quant_type):
    """Every threshold exactly, one float32 step either side, every code, every exact midpoint; absmax 1."""
    table = NF4 if quant_type == 'nf4' else FP4
    if quant_type == 'nf4':
        thresholds = list(NF4_THRESHOLDS)
    else:
        thresholds = list(FP4_MAG_THRESHOLDS) + [-t for t in FP4_MAG_THRESHOLDS]
    points = []
    for t in thresholds:
        t = F(t)
        points += [t, np.nextafter(t, F(np.inf)), np.nextafter(t, F(-np.inf))]
    ordered = np.sort(table)
    for a, b in zip(ordered[:-1], ordered[1:]):
        points.append(F((np.float64(a) + np.float64(b)) / 2))  # double midpoint rounded to float32
        points.append(F(F(a + b) * F(0.5)))                   # float32 midpoint
    points += list(table) + [F(0.0), F(-0.0), F(-1.0)]
    points = [F(p) for p in points if abs(float(p)) <= 1.0]
    values = []
    for start in range(0, len(points), 63):  # every 64-block starts with 1.0 so absmax = 1 exactly
        values += [F(1.0)] + points[start:start + 63]
    return np.array(values, dtype=F)


def lcg_values(n, block_size, seed):
    """Deterministic float32 inputs that the TypeScript test regenerates bit-exactly (keeps the fixture small):
    31-bit LCG state -> 24-bit uniform u -> (u - 0.5) * 2^((block % 7) - 3)."""
    state = seed
    out = np.zeros(n, dtype=F)
    for i in range(n):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        u = (state >> 7) / 16777216.0
        out[i] = F((u - 0.5) * 2.0 ** ((i // block_size) % 7 - 3))
    return out


def case(name, values, quant_type, block_size, double_quant, large=False):
    n = len(values)
    packed, absmax = quantize_4bit(values, quant_type, block_size)
    entry = {'name': name, 'quantType': quant_type, 'blockSize': block_size, 'doubleQuant': double_quant,
             'length': n, 'packed': packed}
    used_absmax = absmax
    if double_quant:
        offset, q, scale, decoded, _ = nested(absmax)
        entry.update({'absmaxOffset': float(offset), 'absmaxQuantized': [int(v) for v in q],
                      'absmaxScale': floats(scale)})
        used_absmax = decoded
    entry['absmax'] = floats(used_absmax)
    dequantized = dequantize_4bit(packed, used_absmax, quant_type, block_size, n)
    if large:  # inputs regenerated by the test from the LCG; packed bytes as base64, dequantized left out
        entry['lcgSeed'] = 12345
        entry['packedBase64'] = base64.b64encode(bytes(packed)).decode('ascii')
        del entry['packed']
        entry['dequantizedSum'] = float(np.sum(dequantized.astype(np.float64)))
    else:
        entry['values'] = floats(values)
        entry['dequantized'] = floats(dequantized)
    return entry


def main():
    rng = np.random.default_rng(20240605)
    normal = (rng.standard_normal(256) * np.repeat(rng.uniform(0.01, 3.0, 4), 64)).astype(F)
    zero_block = np.concatenate([np.zeros(64), rng.standard_normal(64), np.zeros(37)]).astype(F)  # odd, zero tail
    ragged = (rng.standard_normal(101) * 0.02).astype(F)  # 101 = 64 + 37: not a multiple of 64, odd
    big = lcg_values(32 * 300 + 7, 32, seed=12345)  # 301 blocks of 32 -> two nested groups of 256 (+45)

    cases = []
    for quant_type in ('nf4', 'fp4'):
        cases.append(case(f'crafted-{quant_type}', crafted(quant_type), quant_type, 64, False))
        for double_quant in (False, True):
            suffix = '-dq' if double_quant else ''
            cases.append(case(f'normal-{quant_type}{suffix}', normal, quant_type, 64, double_quant))
            cases.append(case(f'zero-block-{quant_type}{suffix}', zero_block, quant_type, 64, double_quant))
            cases.append(case(f'ragged-{quant_type}{suffix}', ragged, quant_type, 64, double_quant))
        cases.append(case(f'normal-{quant_type}-block128', normal, quant_type, 128, False))
        cases.append(case(f'big-{quant_type}-dq-block32', big, quant_type, 32, True, large=True))

    fixture = {
        'source': 'tools/golden/quant4bit.py (independent reference of bitsandbytes 4-bit semantics)',
        'nf4Code': floats(NF4),
        'fp4Code': floats(FP4),
        'dynamicMap': floats(create_dynamic_map()),
        'cases': cases,
    }
    out = os.path.join(os.path.dirname(__file__), '..', '..', 'packages', 'lora', 'test', 'fixtures', 'quant',
                       'quant4bit.json')
    with open(out, 'w') as fh:
        json.dump(fixture, fh, separators=(',', ':'))
    print(f'wrote {os.path.normpath(out)} ({os.path.getsize(out)} bytes, {len(cases)} cases)')


if __name__ == '__main__':
    main()
