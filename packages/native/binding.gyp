{
  "targets": [
    {
      "target_name": "rlhfjs_native",
      "sources": ["native/addon.cc", "native/kernels.cc", "native/fused_kernels.cc", "native/batched_gemm.cc", "native/thread_pool.cc", "native/decode.cc", "native/decode_addon.cc", "native/small_rows.cc", "native/llama_decode.cc", "native/llama_decode_addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "/usr/include/x86_64-linux-gnu/openblas-pthread",
        "/usr/include/aarch64-linux-gnu/openblas-pthread",
        "/usr/include/openblas"
      ],
      "libraries": ["-lopenblas"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-O3", "-fexceptions", "-std=c++17", "-fno-math-errno", "-fno-trapping-math"]
    }
  ]
}
