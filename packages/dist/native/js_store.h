// A gloo::rendezvous::Store whose set/get/wait run in JavaScript: each call is posted to the JS thread through a
// thread-safe function and the calling (gloo worker) thread blocks until the JS promise settles or a deadline
// passes. The JS side is one function `(request, done) => void` with request = { op: 'set' | 'get' | 'wait',
// key, value, keys, timeoutMs } and done(errorMessage | null, value?: Buffer).
#pragma once

#include <napi.h>

#include <chrono>
#include <string>
#include <vector>

#include <gloo/rendezvous/store.h>

namespace rlhfjs_gloo {

class JsStore : public gloo::rendezvous::Store {
 public:
  // `tsfn` must stay acquired for the lifetime of this store; `timeout` bounds every call.
  JsStore(Napi::ThreadSafeFunction tsfn, std::chrono::milliseconds timeout);

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  std::vector<char> call(const char* op, const std::string& key, const std::vector<char>* value,
                         const std::vector<std::string>& keys, std::chrono::milliseconds timeout);

  Napi::ThreadSafeFunction tsfn_;
  std::chrono::milliseconds timeout_;
};

}  // namespace rlhfjs_gloo
