// Module entry of rlhfjs_gloo.node: exports the GlooGroup class.
#include <napi.h>

#include "gloo_group.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("GlooGroup", rlhfjs_gloo::GlooGroup::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(rlhfjs_gloo, Init)
