"""Reference safetensors files written by the official library (safetensors.torch.save_file, Rust writer).

Writes into packages/core/test/fixtures/safetensors/:
  hf_all_dtypes.safetensors + hf_all_dtypes.json  every dtype the reader converts, with the expected values
  hf_f32_i32.safetensors                          F32 and I32 tensors: our writer must produce the same bytes
  hf_bf16.safetensors                             float32 values (ties included) cast to bfloat16 by torch
Run: python -m venv --system-site-packages v && v/bin/pip install safetensors && v/bin/python tools/golden/safetensors_files.py
"""
import json
import pathlib

import safetensors
import torch
from safetensors.torch import save_file

out = pathlib.Path(__file__).resolve().parents[2] / "packages/core/test/fixtures/safetensors"
out.mkdir(parents=True, exist_ok=True)

floats = torch.tensor([[1.0, -2.5, 3.140625], [65504.0, 1e-7, -0.0]], dtype=torch.float32)
all_dtypes = {
    "f32": floats.clone(),
    "f16": floats.to(torch.float16),
    "bf16": floats.to(torch.bfloat16),
    "f64": torch.tensor([0.1, -1e300, 2.0], dtype=torch.float64),
    "i64": torch.tensor([[-2147483648, 2147483647], [0, -7]], dtype=torch.int64),
    "i32": torch.tensor([5, -6, 7], dtype=torch.int32),
    "i16": torch.tensor([-32768, 32767], dtype=torch.int16),
    "i8": torch.tensor([-128, 127, 3], dtype=torch.int8),
    "u8": torch.tensor([0, 255, 9], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True], dtype=torch.bool),
    "scalar": torch.tensor(4.5, dtype=torch.float32),
    "empty": torch.zeros((0, 3), dtype=torch.float32),
}
save_file(all_dtypes, str(out / "hf_all_dtypes.safetensors"), metadata={"format": "pt"})
expected = {
    name: {"shape": list(t.shape), "values": t.to(torch.float64).flatten().tolist() if t.is_floating_point() else t.to(torch.int64).flatten().tolist()}
    for name, t in all_dtypes.items()
}
(out / "hf_all_dtypes.json").write_text(json.dumps({"source": f"safetensors {safetensors.__version__}, torch {torch.__version__}", "tensors": expected}, indent=1) + "\n")

save_file(
    {
        "model.embed.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4) / 7,
        "model.bias": torch.tensor([-1.5, 2.25], dtype=torch.float32),
        "positions": torch.tensor([[0, 1, 2]], dtype=torch.int32),
    },
    str(out / "hf_f32_i32.safetensors"),
    metadata={"format": "pt"},
)

ties = torch.tensor([1.0, 1 + 2**-8, 1 + 3 * 2**-8, 3.4028234663852886e38, float("inf"), -0.0, 1e-40, 0.1], dtype=torch.float32)
save_file({"w": ties.to(torch.bfloat16), "a": (torch.arange(6, dtype=torch.float32) / 3).reshape(2, 3).to(torch.bfloat16)}, str(out / "hf_bf16.safetensors"))
print("wrote", sorted(p.name for p in out.iterdir()))
