// GlooGroup: gloo contexts (TCP transport) exposed to JS: channel 0 serves every collective; large all-reduces are
// split over all channels, each a context with its own device (sockets and I/O thread), run side by side. Rendezvous goes through a JS store function (see
// js_store.h); every collective runs as napi async work on libuv's thread pool and settles a promise, so the JS
// event loop keeps running while gloo moves bytes. Callers run one operation at a time.
#pragma once

#include <napi.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gloo/context.h>

namespace rlhfjs_gloo {

class GlooGroup : public Napi::ObjectWrap<GlooGroup> {
 public:
  static Napi::Function Define(Napi::Env env);

  // new GlooGroup(rank, size, hostname, timeoutMs, channels = 1)
  explicit GlooGroup(const Napi::CallbackInfo& info);

 private:
  Napi::Value Connect(const Napi::CallbackInfo& info);    // (storeFn, connectTimeoutMs) => Promise<void>
  Napi::Value AllReduce(const Napi::CallbackInfo& info);  // (Float32Array | Float64Array, op 0..3) => Promise<void>
  Napi::Value Broadcast(const Napi::CallbackInfo& info);  // (TypedArray, root) => Promise<void>
  Napi::Value Barrier(const Napi::CallbackInfo& info);    // () => Promise<void>
  void Close(const Napi::CallbackInfo& info);             // drop the context (closes its sockets)

  std::vector<std::shared_ptr<gloo::Context>> RequireContexts(Napi::Env env, const char* where);
  uint32_t NextTag() { return tag_++; }

  int rank_ = 0;
  int size_ = 1;
  std::string hostname_;
  std::chrono::milliseconds timeout_{30000};
  int channels_ = 1;
  std::vector<std::shared_ptr<gloo::Context>> contexts_;
  uint32_t tag_ = 1;
};

}  // namespace rlhfjs_gloo
