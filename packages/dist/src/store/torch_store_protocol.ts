/**
 * PyTorch's c10d TCPStore wire protocol, as read in torch/csrc/distributed/c10d/TCPStore.cpp,
 * TCPStoreBackend.{hpp,cpp} and TCPStoreLibUvBackend.cpp. Every request is one query-type byte followed by its
 * arguments; strings and byte vectors are a little-endian uint64 length and the bytes; integers are int64.
 *
 * - `v1` (torch 1.13; the enum starts SET, COMPARE_SET, GET, ADD, CHECK, WAIT, GETNUMKEYS): no handshake.
 *   Checked here against a real 1.13 TCPStore.
 * - `v2` (torch 2.x with VALIDATE and PING, both the classic and the libuv backend): the enum gained VALIDATE
 *   in front (SET = 1, GET = 3, ADD = 4, CHECK = 5, ... PING = 13); a client first sends VALIDATE with the
 *   uint32 magic 0x3C85F7CE (the libuv server ignores a first message that is not VALIDATE), then PING with a
 *   uint32 nonce that the server echoes.
 *
 * SET has no reply; GET replies with a byte vector (a missing key closes the connection on the classic backend,
 * so clients CHECK first); ADD replies with the new int64; CHECK replies one byte, 0 = ready, 1 = not ready.
 * The C++ client prefixes every user key with "/" and counts itself in at the raw key "init/".
 */
export type TorchStoreProtocol = 'v1' | 'v2';

export const TORCH_STORE_PROTOCOLS: readonly TorchStoreProtocol[] = ['v1', 'v2'];

export interface TorchStoreCodes {
  readonly set: number;
  readonly get: number;
  readonly add: number;
  readonly check: number;
}

export const TORCH_STORE_CODES: Readonly<Record<TorchStoreProtocol, TorchStoreCodes>> = {
  v1: { set: 0, get: 2, add: 3, check: 4 },
  v2: { set: 1, get: 3, add: 4, check: 5 },
};

export const TORCH_VALIDATE_CODE = 0;
export const TORCH_PING_CODE = 13;
export const TORCH_VALIDATION_MAGIC = 0x3c85f7ce;
export const TORCH_CHECK_READY = 0;
export const TORCH_CHECK_NOT_READY = 1;
/** The C++ client's prefix of every user key, and its worker-count key (not prefixed). */
export const TORCH_KEY_PREFIX = '/';
export const TORCH_INIT_KEY = 'init/';
/** torch's libuv server refuses keys above 8 KiB and values above 8 MiB; so do we, before sending or reading. */
export const TORCH_MAX_KEY_BYTES = 8 * 1024;
export const TORCH_MAX_VALUE_BYTES = 8 * 1024 * 1024;

function encodeLength(byteCount: number): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeBigUInt64LE(BigInt(byteCount));
  return out;
}

/** uint64 length + bytes. */
export function encodeBytes(bytes: Buffer): Buffer {
  return Buffer.concat([encodeLength(bytes.length), bytes]);
}

export function encodeSet(codes: TorchStoreCodes, key: string, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([codes.set]), encodeBytes(Buffer.from(key, 'utf8')), encodeBytes(value)]);
}

export function encodeGet(codes: TorchStoreCodes, key: string): Buffer {
  return Buffer.concat([Buffer.from([codes.get]), encodeBytes(Buffer.from(key, 'utf8'))]);
}

export function encodeAdd(codes: TorchStoreCodes, key: string, delta: number): Buffer {
  const value = Buffer.allocUnsafe(8);
  value.writeBigInt64LE(BigInt(delta));
  return Buffer.concat([Buffer.from([codes.add]), encodeBytes(Buffer.from(key, 'utf8')), value]);
}

export function encodeCheck(codes: TorchStoreCodes, keys: readonly string[]): Buffer {
  return Buffer.concat([Buffer.from([codes.check]), encodeLength(keys.length), ...keys.map((key) => encodeBytes(Buffer.from(key, 'utf8')))]);
}

/**
 * VALIDATE then PING with `nonce`. The nonce's third byte has its top bit set: a 1.13 server reads these bytes
 * as SET with a key length of at least 2^63, which its string allocation refuses at once, so it closes the
 * connection (nothing allocated, nothing stored) and the client falls back to `v1`.
 */
export function encodeValidateAndPing(nonce: number): Buffer {
  const out = Buffer.allocUnsafe(10);
  out.writeUInt8(TORCH_VALIDATE_CODE, 0);
  out.writeUInt32LE(TORCH_VALIDATION_MAGIC, 1);
  out.writeUInt8(TORCH_PING_CODE, 5);
  out.writeUInt32LE(nonce >>> 0, 6);
  return out;
}

/** A ping nonce whose third byte has its top bit set (see `encodeValidateAndPing`). */
export function probeNonce(random: number): number {
  return ((random >>> 0) | 0x00800000) >>> 0;
}
