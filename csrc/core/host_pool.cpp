#include "core/host_pool.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>

namespace lpengine {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kPage = 4096;
constexpr size_t kMinPooled = 64 * 1024;  // small buffers are cheap for malloc already

size_t rounded(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

size_t cap_bytes() {
  static const size_t cap = [] {
    const char* env = std::getenv("LPENGINE_HOST_POOL_MB");
    const long mb = env != nullptr ? std::atol(env) : 256;
    return static_cast<size_t>(mb > 0 ? mb : 0) << 20;
  }();
  return cap;
}

struct Pool {
  std::mutex mu;
  std::multimap<size_t, void*> free;  // size -> buffer; frames of one stream share one size
  size_t held = 0;
};

Pool& pool() {
  static Pool* p = new Pool();  // NOTE: leaked so buffers released at interpreter exit stay valid
  return *p;
}

}  // namespace

void* host_acquire(size_t bytes) {
  const size_t size = rounded(bytes == 0 ? 1 : bytes);
  if (size >= kMinPooled) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    auto it = p.free.find(size);
    if (it != p.free.end()) {
      void* ptr = it->second;
      p.free.erase(it);
      p.held -= size;
      return ptr;
    }
  }
  void* ptr = std::aligned_alloc(kAlign, size);
  if (ptr == nullptr) throw std::bad_alloc();
  return ptr;
}

void host_release(void* ptr, size_t bytes) noexcept {
  const size_t size = rounded(bytes == 0 ? 1 : bytes);
  if (size >= kMinPooled) {
    Pool& p = pool();
    std::lock_guard<std::mutex> lock(p.mu);
    if (p.held + size <= cap_bytes()) {
      p.free.emplace(size, ptr);
      p.held += size;
      return;
    }
  }
  std::free(ptr);
}

}  // namespace lpengine
