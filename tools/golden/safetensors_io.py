"""Tiny hand-written safetensors writer/reader (no `safetensors` package needed).

File format (https://github.com/huggingface/safetensors, "Format" section):
  bytes 0..8      : N, unsigned little-endian 64-bit integer = byte length of the JSON header
  bytes 8..8+N    : UTF-8 JSON object { name: {"dtype", "shape", "data_offsets": [begin, end]}, ...,
                    optional "__metadata__": {str: str} }, padded on the right with spaces (0x20)
                    so that the data section starts 8-byte aligned
  bytes 8+N..     : the byte buffer; data_offsets are relative to its start; tensors are row-major,
                    little-endian, contiguous, and the buffer has no holes.

Tensors are laid out in sorted-name order. BF16 is written as the raw upper 16 bits of float32 (what
torch stores), so `torch.bfloat16` tensors round-trip bit-exactly.
"""

import json
import struct

import numpy as np
import torch

_TORCH_TO_SAFETENSORS = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_SAFETENSORS_TO_TORCH = {name: dtype for dtype, name in _TORCH_TO_SAFETENSORS.items()}


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    tensor = tensor.detach().contiguous().cpu()
    if tensor.dtype == torch.bfloat16:
        # numpy has no bfloat16: reinterpret the same 2-byte storage as int16.
        return tensor.view(torch.int16).numpy().astype("<i2").tobytes()
    array = tensor.numpy()
    return array.astype(array.dtype.newbyteorder("<")).tobytes()


def write_safetensors(path: str, tensors: dict, metadata: dict | None = None) -> None:
    header: dict = {}
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name]
        if tensor.dtype not in _TORCH_TO_SAFETENSORS:
            raise ValueError(f"write_safetensors: unsupported dtype {tensor.dtype} for {name}")
        data = _tensor_bytes(tensor)
        header[name] = {
            "dtype": _TORCH_TO_SAFETENSORS[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(header_bytes)))
        handle.write(header_bytes)
        for data in chunks:
            handle.write(data)


def read_safetensors(path: str) -> tuple[dict, dict]:
    """Returns (tensors by name, metadata)."""
    with open(path, "rb") as handle:
        raw = handle.read()
    (header_length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_length].decode("utf-8"))
    data = raw[8 + header_length :]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = _SAFETENSORS_TO_TORCH[info["dtype"]]
        chunk = data[begin:end]
        if dtype == torch.bfloat16:
            array = np.frombuffer(chunk, dtype="<i2").copy()
            tensor = torch.from_numpy(array).view(torch.bfloat16)
        else:
            numpy_dtype = torch.empty(0, dtype=dtype).numpy().dtype.newbyteorder("<")
            tensor = torch.from_numpy(np.frombuffer(chunk, dtype=numpy_dtype).copy())
        tensors[name] = tensor.reshape(info["shape"])
    return tensors, metadata
