// Recycles large host buffers that back numpy outputs. A fresh multi-megabyte allocation costs
// page faults and kernel zeroing on first touch (as much as the op itself for a 1080p frame);
// a recycled one is already mapped and warm.
#pragma once

#include <cstddef>

namespace lpengine {

// 64-byte aligned, at least `bytes` long; never returns null (throws std::bad_alloc).
void* host_acquire(size_t bytes);
// Gives a buffer from host_acquire back; kept for reuse while the pool holds less than its cap
// (LPENGINE_HOST_POOL_MB, default 256), freed otherwise.
void host_release(void* ptr, size_t bytes) noexcept;

}  // namespace lpengine
