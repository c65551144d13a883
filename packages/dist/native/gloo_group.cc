#include "gloo_group.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/common/error.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include "js_store.h"

namespace rlhfjs_gloo {

namespace {

// Error codes handed to JS (the TS side turns them into DistError with the same code).
const char* Classify(const std::string& message, bool rendezvous) {
  if (rendezvous) return "RENDEZVOUS";
  if (message.find("Timed out") != std::string::npos || message.find("timed out") != std::string::npos ||
      message.find("Timeout") != std::string::npos) {
    return "TIMEOUT";
  }
  return "PEER_LOST";
}

// napi async work around one blocking gloo call: `body` runs on a libuv pool thread, the promise settles on the JS
// thread. `keep` holds the JS buffer alive while gloo reads and writes its memory.
class GlooWork : public Napi::AsyncWorker {
 public:
  GlooWork(Napi::Env env, const char* name, std::function<void()> body, bool rendezvous)
      : Napi::AsyncWorker(env, name), body_(std::move(body)), rendezvous_(rendezvous), deferred_(env) {}

  Napi::Promise Promise() { return deferred_.Promise(); }
  void Keep(Napi::Value value) { keep_ = Napi::Persistent(value.As<Napi::Object>()); }

 protected:
  void Execute() override {
    try {
      body_();
    } catch (const gloo::IoException& error) {
      code_ = Classify(error.what(), rendezvous_);
      SetError(error.what());
    } catch (const std::exception& error) {
      code_ = rendezvous_ ? "RENDEZVOUS" : "GLOO";
      SetError(error.what());
    } catch (...) {
      code_ = "GLOO";
      SetError("unknown gloo failure");
    }
  }

  void OnOK() override { deferred_.Resolve(Env().Undefined()); }

  void OnError(const Napi::Error& error) override {
    Napi::Error withCode = Napi::Error::New(Env(), error.Message());
    withCode.Set("code", Napi::String::New(Env(), code_));
    deferred_.Reject(withCode.Value());
  }

 private:
  std::function<void()> body_;
  bool rendezvous_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keep_;
  std::string code_ = "GLOO";
};

// Element-wise reductions handed to gloo's ring. gloo's own `gloo::sum<T>` (gloo/math.h) is a header template with
// an `int` index and no aliasing guarantee, so in this addon (compiled at install, not with PyTorch's flags) it
// stays a scalar loop; these have `__restrict` pointers and a `size_t` index, which GCC vectorises at -O3 (see
// binding.gyp). gloo's ring calls them in place (c == a, b its receive buffer) or with three distinct buffers;
// `b` never overlaps `c`. Same arithmetic, element by element, as gloo's: c[i] = a[i] + b[i].
template <typename T>
void SumInto(void* c_, const void* a_, const void* b_, size_t n) {
  T* c = static_cast<T*>(c_);
  const T* a = static_cast<const T*>(a_);
  const T* __restrict b = static_cast<const T*>(b_);
  if (c == a) {
    T* __restrict inout = c;
    for (size_t i = 0; i < n; i += 1) inout[i] += b[i];
    return;
  }
  T* __restrict out = c;
  const T* __restrict left = a;
  for (size_t i = 0; i < n; i += 1) out[i] = left[i] + b[i];
}

template <typename T>
gloo::AllreduceOptions::Func ReduceFunction(int op) {
  using Pointer = void (*)(void*, const void*, const void*, size_t);
  switch (op) {
    case 2:
      return static_cast<Pointer>(&gloo::max<T>);
    case 3:
      return static_cast<Pointer>(&gloo::min<T>);
    default:  // 0 sum, 1 mean (divided afterwards)
      return static_cast<Pointer>(&SumInto<T>);
  }
}

template <typename T>
void DivideInPlace(T* __restrict data, size_t count, T divisor) {
  for (size_t index = 0; index < count; index += 1) data[index] /= divisor;
}

template <typename T>
void RunAllReduceOn(const std::shared_ptr<gloo::Context>& context, T* data, size_t count, int op, uint32_t tag,
                    std::chrono::milliseconds timeout) {
  gloo::AllreduceOptions options(context);
  options.setOutput(data, count);
  options.setReduceFunction(ReduceFunction<T>(op));
  options.setTag(tag);
  options.setTimeout(timeout);
  gloo::allreduce(options);
}

// Below this many bytes an all-reduce stays on channel 0: splitting only pays when each part keeps a ring busy.
constexpr size_t kSplitFromBytes = size_t{4} << 20;

// data[count] all-reduced in place: one contiguous part per channel (64-byte aligned boundaries), the parts' rings
// run at once on their own threads and devices, so one ring's reduction overlaps another's socket traffic. Every
// rank splits the same way (same count, same channel count). The first failure is rethrown after all parts end.
template <typename T>
void RunAllReduce(const std::vector<std::shared_ptr<gloo::Context>>& contexts, T* data, size_t count, int op,
                  uint32_t tag, std::chrono::milliseconds timeout) {
  const size_t parts = count * sizeof(T) < kSplitFromBytes ? 1 : contexts.size();
  if (parts <= 1) {
    RunAllReduceOn(contexts[0], data, count, op, tag, timeout);
  } else {
    const size_t align = std::max<size_t>(1, 64 / sizeof(T));
    const size_t share = ((count + parts - 1) / parts + align - 1) / align * align;
    std::vector<std::exception_ptr> failures(parts);
    std::vector<std::thread> workers;
    auto run = [&](size_t part) {
      const size_t begin = std::min(count, part * share);
      const size_t end = std::min(count, begin + share);
      if (end <= begin) return;
      try {
        RunAllReduceOn(contexts[part], data + begin, end - begin, op, tag, timeout);
      } catch (...) {
        failures[part] = std::current_exception();
      }
    };
    for (size_t part = 1; part < parts; part += 1) workers.emplace_back(run, part);
    run(0);
    for (std::thread& worker : workers) worker.join();
    for (const std::exception_ptr& failure : failures) {
      if (failure) std::rethrow_exception(failure);
    }
  }
  if (op == 1) DivideInPlace(data, count, static_cast<T>(contexts[0]->size));
}

}  // namespace

Napi::Function GlooGroup::Define(Napi::Env env) {
  return DefineClass(env, "GlooGroup",
                     {
                         InstanceMethod("connect", &GlooGroup::Connect),
                         InstanceMethod("allReduce", &GlooGroup::AllReduce),
                         InstanceMethod("broadcast", &GlooGroup::Broadcast),
                         InstanceMethod("barrier", &GlooGroup::Barrier),
                         InstanceMethod("close", &GlooGroup::Close),
                     });
}

GlooGroup::GlooGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GlooGroup>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsString() || !info[3].IsNumber() ||
      (info.Length() > 4 && !info[4].IsNumber())) {
    throw Napi::TypeError::New(env, "GlooGroup(rank, size, hostname, timeoutMs, channels?): wrong arguments");
  }
  rank_ = info[0].As<Napi::Number>().Int32Value();
  size_ = info[1].As<Napi::Number>().Int32Value();
  hostname_ = info[2].As<Napi::String>().Utf8Value();
  timeout_ = std::chrono::milliseconds(info[3].As<Napi::Number>().Int64Value());
  channels_ = info.Length() > 4 ? info[4].As<Napi::Number>().Int32Value() : 1;
  if (size_ < 1 || rank_ < 0 || rank_ >= size_ || timeout_.count() <= 0 || channels_ < 1 || channels_ > 16) {
    throw Napi::RangeError::New(env, "GlooGroup: need 0 <= rank < size, timeoutMs > 0 and 1 <= channels <= 16");
  }
}

std::vector<std::shared_ptr<gloo::Context>> GlooGroup::RequireContexts(Napi::Env env, const char* where) {
  if (contexts_.empty()) throw Napi::Error::New(env, std::string("GlooGroup.") + where + ": not connected (or closed)");
  return contexts_;
}

Napi::Value GlooGroup::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "GlooGroup.connect(storeFn, connectTimeoutMs)");
  }
  if (!contexts_.empty()) throw Napi::Error::New(env, "GlooGroup.connect: already connected");
  Napi::ThreadSafeFunction tsfn = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "rlhfjs-gloo-store", 0, 1);
  const std::chrono::milliseconds connectTimeout(info[1].As<Napi::Number>().Int64Value());
  std::vector<std::shared_ptr<gloo::rendezvous::Context>> contexts;
  for (int channel = 0; channel < channels_; channel += 1) {
    contexts.push_back(std::make_shared<gloo::rendezvous::Context>(rank_, size_));
    // The rendezvous runs under its own deadline; collectives under the group's timeout afterwards.
    contexts.back()->setTimeout(connectTimeout);
  }
  const std::string hostname = hostname_;
  const std::chrono::milliseconds timeout = timeout_;
  auto body = [tsfn, contexts, hostname, connectTimeout, timeout]() mutable {
    try {
      JsStore store(tsfn, connectTimeout);
      for (size_t channel = 0; channel < contexts.size(); channel += 1) {
        gloo::transport::tcp::attr attr;
        attr.hostname = hostname;
        auto device = gloo::transport::tcp::CreateDevice(attr);  // each channel: its own sockets and I/O thread
        if (channel == 0) {
          contexts[channel]->connectFullMesh(store, device);  // channel 0's keys as before (one-channel peers agree)
        } else {
          gloo::rendezvous::PrefixStore prefixed("channel" + std::to_string(channel), store);
          contexts[channel]->connectFullMesh(prefixed, device);
        }
        contexts[channel]->setTimeout(timeout);
      }
    } catch (...) {
      tsfn.Release();
      throw;
    }
    tsfn.Release();
  };
  auto* work = new GlooWork(env, "rlhfjs-gloo-connect", body, true);
  Napi::Promise promise = work->Promise();
  contexts_.assign(contexts.begin(), contexts.end());
  work->Queue();
  return promise;
}

Napi::Value GlooGroup::AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto contexts = RequireContexts(env, "allReduce");
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "GlooGroup.allReduce(Float32Array | Float64Array, op)");
  }
  Napi::TypedArray array = info[0].As<Napi::TypedArray>();
  const int op = info[1].As<Napi::Number>().Int32Value();
  const size_t count = array.ElementLength();
  void* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  const uint32_t tag = NextTag();
  const std::chrono::milliseconds timeout = timeout_;
  std::function<void()> body;
  switch (array.TypedArrayType()) {
    case napi_float32_array:
      body = [=]() { RunAllReduce(contexts, static_cast<float*>(data), count, op, tag, timeout); };
      break;
    case napi_float64_array:
      body = [=]() { RunAllReduce(contexts, static_cast<double*>(data), count, op, tag, timeout); };
      break;
    default:
      throw Napi::TypeError::New(env, "GlooGroup.allReduce: only Float32Array and Float64Array");
  }
  auto* work = new GlooWork(env, "rlhfjs-gloo-allreduce", body, false);
  work->Keep(array);
  Napi::Promise promise = work->Promise();
  work->Queue();
  return promise;
}

Napi::Value GlooGroup::Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto context = RequireContexts(env, "broadcast")[0];
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "GlooGroup.broadcast(TypedArray, root)");
  }
  Napi::TypedArray array = info[0].As<Napi::TypedArray>();
  const int root = info[1].As<Napi::Number>().Int32Value();
  uint8_t* data = static_cast<uint8_t*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  const size_t bytes = array.ByteLength();
  const uint32_t tag = NextTag();
  const std::chrono::milliseconds timeout = timeout_;
  auto body = [=]() {
    gloo::BroadcastOptions options(context);
    options.setOutput(data, bytes);
    options.setRoot(root);
    options.setTag(tag);
    options.setTimeout(timeout);
    gloo::broadcast(options);
  };
  auto* work = new GlooWork(env, "rlhfjs-gloo-broadcast", body, false);
  work->Keep(array);
  Napi::Promise promise = work->Promise();
  work->Queue();
  return promise;
}

Napi::Value GlooGroup::Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto context = RequireContexts(env, "barrier")[0];
  const uint32_t tag = NextTag();
  const std::chrono::milliseconds timeout = timeout_;
  auto body = [=]() {
    gloo::BarrierOptions options(context);
    options.setTag(tag);
    options.setTimeout(timeout);
    gloo::barrier(options);
  };
  auto* work = new GlooWork(env, "rlhfjs-gloo-barrier", body, false);
  Napi::Promise promise = work->Promise();
  work->Queue();
  return promise;
}

void GlooGroup::Close(const Napi::CallbackInfo& /*info*/) {
  // Work still in flight holds its own reference; the sockets close when the last one is dropped.
  contexts_.clear();
}

}  // namespace rlhfjs_gloo
