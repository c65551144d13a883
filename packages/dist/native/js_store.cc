#include "js_store.h"

#include <condition_variable>
#include <memory>
#include <mutex>

#include <gloo/common/error.h>

namespace rlhfjs_gloo {

namespace {

// One store call in flight: filled on the gloo thread, answered on the JS thread (possibly after the gloo thread
// gave up waiting, hence shared ownership).
struct Request {
  std::string op;
  std::string key;
  std::vector<char> value;
  std::vector<std::string> keys;
  int64_t timeoutMs = 0;

  std::mutex mutex;
  std::condition_variable answered;
  bool done = false;
  std::string error;
  std::vector<char> result;
};

using RequestHandle = std::shared_ptr<Request>;

void Answer(const RequestHandle& request, std::string error, std::vector<char> result) {
  {
    std::lock_guard<std::mutex> lock(request->mutex);
    if (request->done) return;
    request->done = true;
    request->error = std::move(error);
    request->result = std::move(result);
  }
  request->answered.notify_all();
}

// Runs on the JS thread: build the request object and a one-shot `done` callback, then call the JS store function.
void CallJs(Napi::Env env, Napi::Function jsStore, RequestHandle* data) {
  RequestHandle request = *data;
  delete data;
  if (env == nullptr || jsStore == nullptr) {
    Answer(request, "the JS store is gone (environment shutting down)", {});
    return;
  }
  try {
    Napi::Object message = Napi::Object::New(env);
    message.Set("op", request->op);
    message.Set("key", request->key);
    message.Set("value", Napi::Buffer<char>::Copy(env, request->value.data(), request->value.size()));
    Napi::Array keys = Napi::Array::New(env, request->keys.size());
    for (size_t index = 0; index < request->keys.size(); index += 1) keys.Set(index, request->keys[index]);
    message.Set("keys", keys);
    message.Set("timeoutMs", Napi::Number::New(env, static_cast<double>(request->timeoutMs)));
    Napi::Function done = Napi::Function::New(env, [request](const Napi::CallbackInfo& info) {
      if (info.Length() > 0 && !info[0].IsNull() && !info[0].IsUndefined()) {
        Answer(request, info[0].ToString().Utf8Value(), {});
        return;
      }
      std::vector<char> value;
      if (info.Length() > 1 && info[1].IsBuffer()) {
        Napi::Buffer<char> buffer = info[1].As<Napi::Buffer<char>>();
        value.assign(buffer.Data(), buffer.Data() + buffer.Length());
      }
      Answer(request, "", std::move(value));
    });
    jsStore.Call({message, done});
  } catch (const std::exception& error) {
    Answer(request, std::string("the JS store threw: ") + error.what(), {});
  }
}

}  // namespace

JsStore::JsStore(Napi::ThreadSafeFunction tsfn, std::chrono::milliseconds timeout)
    : tsfn_(std::move(tsfn)), timeout_(timeout) {}

std::vector<char> JsStore::call(const char* op, const std::string& key, const std::vector<char>* value,
                                const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  auto request = std::make_shared<Request>();
  request->op = op;
  request->key = key;
  if (value != nullptr) request->value = *value;
  request->keys = keys;
  request->timeoutMs = timeout.count();
  napi_status status = tsfn_.BlockingCall(new RequestHandle(request), CallJs);
  if (status != napi_ok) {
    throw gloo::IoException(std::string("store ") + op + " \"" + key + "\": the JS thread is not accepting calls");
  }
  // The JS store enforces `timeout` itself; this wait only guards against a JS side that never answers.
  std::unique_lock<std::mutex> lock(request->mutex);
  bool answered = request->answered.wait_for(lock, timeout + std::chrono::milliseconds(5000), [&] { return request->done; });
  if (!answered) {
    throw gloo::IoException(std::string("store ") + op + " \"" + key + "\": no answer from the JS store within " +
                            std::to_string(timeout.count() + 5000) + " ms");
  }
  if (!request->error.empty()) throw gloo::IoException(std::string("store ") + op + ": " + request->error);
  return std::move(request->result);
}

void JsStore::set(const std::string& key, const std::vector<char>& data) {
  call("set", key, &data, {}, timeout_);
}

std::vector<char> JsStore::get(const std::string& key) {
  return call("get", key, nullptr, {}, timeout_);
}

void JsStore::wait(const std::vector<std::string>& keys) {
  wait(keys, timeout_);
}

void JsStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  std::chrono::milliseconds bounded = timeout.count() > 0 ? timeout : timeout_;
  call("wait", keys.empty() ? std::string() : keys.front(), nullptr, keys, bounded);
}

}  // namespace rlhfjs_gloo
