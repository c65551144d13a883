/**
 * The bytes of a tiny WebAssembly module with 128-bit SIMD loops over its own memory (no toolchain, no file to
 * ship: it is assembled here from the opcodes of the WebAssembly 2.0 binary format, spec §5.4).
 *
 * Exports: `memory` (fixed size, never grown, so views of it stay valid) and, over byte addresses in it,
 *   addF32(dst, src, bytes)        dst[i] = dst[i] + src[i]   f32x4.add, `bytes` a multiple of 16
 *   addF64(dst, src, bytes)        the same, f64x2.add
 *   divF32(dst, bytes, divisor)    dst[i] = dst[i] / divisor  f32x4.div by a splat f32
 *   divF64(dst, bytes, divisor)    the same, f64x2.div
 * Lane arithmetic is IEEE 754 round-to-nearest, so each result has the bits JS's scalar loop produces (an f32 sum
 * or quotient computed in f64 and rounded to f32 is the correctly rounded f32 result), NaN payloads aside.
 */

const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  simd: 0xfd,
} as const;
const VOID_BLOCK = 0x40;
const I32 = 0x7f;
const F32 = 0x7d;
const F64 = 0x7c;
/** SIMD sub-opcodes (LEB128-encoded after 0xfd). */
const SIMD = { v128Load: 0x00, v128Store: 0x0b, f32x4Splat: 0x13, f64x2Splat: 0x14, f32x4Add: 0xe4, f32x4Div: 0xe7, f64x2Add: 0xf0, f64x2Div: 0xf3 } as const;
/** memarg of a v128 access: alignment hint 2^2 (Float32Array views are 4-aligned), offset 0. */
const MEMARG = [0x02, 0x00];
const VECTOR_BYTES = 16;

export const WASM_PAGE_BYTES = 65536;

function leb128(value: number): number[] {
  const out: number[] = [];
  let rest = value >>> 0;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

function simd(op: number): number[] {
  return [OP.simd, ...leb128(op)];
}

function vector(bytes: number[]): number[] {
  return [...leb128(bytes.length), ...bytes];
}

function section(id: number, content: number[]): number[] {
  return [id, ...vector(content)];
}

function name(text: string): number[] {
  return vector([...Buffer.from(text, 'utf8')]);
}

/**
 * `for (end = dst + bytes; dst < end; dst += 16, …) body`: `dst` is local 0, `bytes` local `bytesLocal`, `end` local
 * `endLocal`; `advance` lists the pointer locals bumped by 16 each round.
 */
function vectorLoop(bytesLocal: number, endLocal: number, body: number[], advance: number[]): number[] {
  const bump = advance.flatMap((local) => [OP.localGet, local, OP.i32Const, VECTOR_BYTES, OP.i32Add, OP.localSet, local]);
  return [
    ...[OP.localGet, 0, OP.localGet, bytesLocal, OP.i32Add, OP.localSet, endLocal],
    OP.block, VOID_BLOCK,
    OP.loop, VOID_BLOCK,
    ...[OP.localGet, 0, OP.localGet, endLocal, OP.i32GeU, OP.brIf, 1],
    ...body,
    ...bump,
    OP.br, 0,
    OP.end,
    OP.end,
  ];
}

/** add(dst, src, bytes): one i32 local (3) holds the end address. */
function addBody(laneAdd: number): number[] {
  const body = [OP.localGet, 0, OP.localGet, 0, ...simd(SIMD.v128Load), ...MEMARG, OP.localGet, 1, ...simd(SIMD.v128Load), ...MEMARG, ...simd(laneAdd), ...simd(SIMD.v128Store), ...MEMARG];
  return [0x01, 0x01, I32, ...vectorLoop(2, 3, body, [0, 1]), OP.end];
}

/** div(dst, bytes, divisor): locals 3 (end, i32) and 4 (the splat divisor, v128). */
function divBody(splat: number, laneDiv: number): number[] {
  const V128 = 0x7b;
  const prologue = [OP.localGet, 2, ...simd(splat), OP.localSet, 4];
  const body = [OP.localGet, 0, OP.localGet, 0, ...simd(SIMD.v128Load), ...MEMARG, OP.localGet, 4, ...simd(laneDiv), ...simd(SIMD.v128Store), ...MEMARG];
  return [0x02, 0x01, I32, 0x01, V128, ...prologue, ...vectorLoop(1, 3, body, [0]), OP.end];
}

/** The module, with a memory of `pages` 64 KiB pages (minimum = maximum). */
export function simdModuleBytes(pages: number): Uint8Array {
  const functionType = (params: number[]): number[] => [0x60, ...vector(params), 0x00];
  const types = [functionType([I32, I32, I32]), functionType([I32, I32, F32]), functionType([I32, I32, F64])];
  const exports: Array<[string, number, number]> = [
    ['memory', 0x02, 0],
    ['addF32', 0x00, 0],
    ['addF64', 0x00, 1],
    ['divF32', 0x00, 2],
    ['divF64', 0x00, 3],
  ];
  const bodies = [addBody(SIMD.f32x4Add), addBody(SIMD.f64x2Add), divBody(SIMD.f32x4Splat, SIMD.f32x4Div), divBody(SIMD.f64x2Splat, SIMD.f64x2Div)];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [types.length, ...types.flat()]),
    ...section(3, [4, 0, 0, 1, 2]),
    ...section(5, [0x01, 0x01, ...leb128(pages), ...leb128(pages)]),
    ...section(7, [exports.length, ...exports.flatMap(([label, kind, index]) => [...name(label), kind, index])]),
    ...section(10, [bodies.length, ...bodies.flatMap((body) => vector(body))]),
  ]);
}
