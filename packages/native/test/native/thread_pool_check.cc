// Stress check of the addon's thread pool (native/thread_pool.cc), built and run by thread_pool.test.ts with the
// system C++ compiler. Prints one line per property, "ok <name>" or "FAIL <name>: <detail>", and exits 1 on a failure.
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../native/thread_pool.h"

using rlhfjs::PoolWorkerCount;
using rlhfjs::RunParts;

static int failures = 0;

static void Report(bool passed, const char* name, const std::string& detail) {
  if (passed) {
    std::printf("ok %s\n", name);
  } else {
    std::printf("FAIL %s: %s\n", name, detail.c_str());
    ++failures;
  }
}

int main() {
  // Every part runs exactly once, for part counts above, at and below the thread count.
  bool exact = true;
  std::string detail;
  for (int rep = 0; rep < 3000 && exact; ++rep) {
    const int parts = 1 + rep % 9, threads = 2 + rep % 3;
    std::vector<std::atomic<int>> hits(parts);
    for (auto& hit : hits) hit = 0;
    RunParts(parts, threads, [&](int part) { hits[part]++; });
    for (int part = 0; part < parts; ++part) {
      if (hits[part] != 1) {
        exact = false;
        detail = "rep " + std::to_string(rep) + " part " + std::to_string(part) + " ran " + std::to_string(hits[part]);
      }
    }
  }
  Report(exact, "each-part-once", detail);

  // Workers are created once: at most threads − 1 of them however many jobs ran.
  const int workers = PoolWorkerCount();
  Report(workers >= 1 && workers <= 3, "persistent-workers", "pool holds " + std::to_string(workers) + " workers");

  // The first exception of a part reaches the caller, whichever thread ran the part, and the pool still works after.
  int caught = 0;
  for (int rep = 0; rep < 500; ++rep) {
    try {
      RunParts(4, 2, [&](int part) {
        if (part == rep % 4) throw std::runtime_error("part " + std::to_string(part));
      });
    } catch (const std::runtime_error&) {
      ++caught;
    }
  }
  std::atomic<int> after{0};
  RunParts(6, 2, [&](int) { after++; });
  Report(caught == 500 && after == 6, "exceptions-propagate",
         "caught " + std::to_string(caught) + " of 500, then " + std::to_string(after.load()) + " of 6 parts ran");

  // A part that calls RunParts again (nested) runs the inner parts inline instead of deadlocking.
  std::atomic<int> nested{0};
  RunParts(4, 2, [&](int) { RunParts(3, 2, [&](int) { nested++; }); });
  Report(nested == 12, "nested-calls", std::to_string(nested.load()) + " of 12 inner parts ran");

  // Several caller threads at once: each job completes, none is lost.
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int caller = 0; caller < 4; ++caller) {
    callers.emplace_back([&] {
      for (int rep = 0; rep < 2000; ++rep) RunParts(5, 2, [&](int) { total++; });
    });
  }
  for (std::thread& caller : callers) caller.join();
  Report(total == 4L * 2000 * 5, "concurrent-callers", std::to_string(total.load()) + " of 40000 parts ran");
  return failures == 0 ? 0 : 1;
}
