{
  "targets": [
    {
      "target_name": "rlhfjs_gloo",
      "sources": ["native/gloo_addon.cc", "native/js_store.cc", "native/gloo_group.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "libraries": ["-lgloo"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-O3", "-fexceptions", "-std=c++17"]
    }
  ]
}
