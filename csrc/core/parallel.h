// A small persistent thread pool: native ops split rows across it with the GIL released.
#pragma once

#include <cstdint>
#include <functional>

namespace lpengine {

// Runs fn(begin, end) over [0, n) in chunks of at least `grain`, on the pool and the caller.
// A call made while the pool is busy (another Python thread, or a nested call) runs inline.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

int num_threads();
// 0 restores the default (LPENGINE_NUM_THREADS, else the hardware concurrency).
void set_num_threads(int n);

}  // namespace lpengine
