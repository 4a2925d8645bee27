#include <algorithm>
#include <cstring>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "frames/resize.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LP_RESIZE_AVX512 1
#endif

namespace lpengine {
namespace {

// Two pipelines with the same sums. Portable: Q6 rows in int32 and one gather per tap. AVX-512:
// Q6 rows in int16 (at most 255 << 6), so the horizontal pass picks taps out of a 64-sample
// window with one two-register word permute and multiply-adds two taps per instruction.
constexpr int kLanes = 16;   // output samples per block: one 512-bit register of int32 sums
constexpr int kWindow = 64;  // int16 samples two 512-bit registers hold

// Vertical pass: acc[k] = sum_t src[t][k] * w[t] for one output row, then rounded to Q6.
// src: taps rows of n bytes, `stride` apart; w: [taps] Q14; out: [n] Q6.
LP_HOT void vertical_pass(const uint8_t* __restrict src, std::ptrdiff_t stride, int taps,
                          const int16_t* __restrict w, int n, int32_t* __restrict out) {
  const int32_t w0 = w[0];
  for (int k = 0; k < n; ++k) out[k] = src[k] * w0;
  for (int t = 1; t < taps; ++t) {
    const uint8_t* __restrict row = src + t * stride;
    const int32_t wt = w[t];
    if (wt == 0) continue;
    for (int k = 0; k < n; ++k) out[k] += row[k] * wt;
  }
  for (int k = 0; k < n; ++k) out[k] = (out[k] + (1 << 7)) >> 8;
}

// Horizontal pass, tap-major so each step is one gather per output lane.
// in: Q6 row; idx: [n] offset of each output's first tap; wt: [taps, n] Q14 (transposed);
// out: [n] bytes `ostep` apart; acc: [n] scratch.
LP_HOT void horizontal_pass(const int32_t* __restrict in, const int32_t* __restrict idx,
                            const int16_t* __restrict wt, int taps, int tap_step, int n,
                            int32_t* __restrict acc, uint8_t* __restrict out, int ostep) {
  for (int i = 0; i < n; ++i) acc[i] = 1 << 19;
  for (int t = 0; t < taps; ++t) {
    const int16_t* __restrict w = wt + static_cast<std::ptrdiff_t>(t) * n;
    const int32_t* __restrict p = in + t * tap_step;
    for (int i = 0; i < n; ++i) acc[i] += p[idx[i]] * w[i];
  }
  for (int i = 0; i < n; ++i)
    out[i * ostep] = static_cast<uint8_t>(std::min(std::max(acc[i] >> 20, 0), 255));
}

// A plane job's horizontal taps rearranged for one of the pipelines, computed once per call.
// AVX-512: block b covers output samples [16 b, 16 b + 16) and pair p its taps 2 p, 2 p + 1.
// Each (block, pair) permutes a 64-sample window of the Q6 row so that lane 2 k + (t & 1) holds
// sample k's tap t; one word multiply-add then sums the pair into int32 lane k.
struct HorizontalPlan {
  int col0 = 0;                 // first source column any output reads
  int n_in = 0;                 // source samples (columns x channels) a row needs
  int pairs = 0;                // tap pairs of the AVX-512 pipeline; 0 selects the portable one
  std::vector<int32_t> base;    // AVX-512: [blocks, pairs] first sample of the window
  std::vector<int16_t> lane;    // AVX-512: [blocks, pairs, 2 * kLanes] offset into the window
  std::vector<int16_t> weight;  // AVX-512: same layout, Q14, 0 where no tap; portable: [taps, n]
  std::vector<int32_t> idx;     // portable: [n] start - col0, in samples
};

bool has_avx512() {
#ifdef LP_RESIZE_AVX512
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  }();
  return yes;
#else
  return false;
#endif
}

// AVX-512 tables; false when some pair's taps spread wider than a window (strong shrinks).
bool window_tables(const PlaneJob& j, HorizontalPlan& h) {
  const int ch = j.src.channels;
  const int taps = j.x.taps;
  const int pairs = (taps + 1) / 2;
  const int per_block = kLanes / ch;  // whole outputs: ch is 1 or 2
  const int blocks = (j.dst_w + per_block - 1) / per_block;
  h.base.resize(static_cast<size_t>(blocks) * pairs);
  h.lane.assign(h.base.size() * 2 * kLanes, 0);
  h.weight.assign(h.lane.size(), 0);
  for (int b = 0; b < blocks; ++b) {
    const int i0 = b * per_block;
    const int i1 = std::min(j.dst_w, i0 + per_block);
    for (int p = 0; p < pairs; ++p) {
      const size_t bp = static_cast<size_t>(b) * pairs + p;
      // Starts never decrease, so the block's first output reads the leftmost sample.
      const int lo = (j.x.start[i0] - h.col0 + 2 * p) * ch;
      h.base[bp] = lo;
      for (int i = i0; i < i1; ++i) {
        for (int t = 2 * p; t < std::min(taps, 2 * p + 2); ++t) {
          for (int c = 0; c < ch; ++c) {
            const int off = (j.x.start[i] - h.col0 + t) * ch + c - lo;
            if (off < 0 || off >= kWindow) return false;
            const size_t l = bp * 2 * kLanes + 2 * ((i - i0) * ch + c) + (t & 1);
            h.lane[l] = static_cast<int16_t>(off);
            h.weight[l] = j.x.weight[static_cast<size_t>(i) * taps + t];
          }
        }
      }
    }
  }
  h.pairs = pairs;
  return true;
}

HorizontalPlan horizontal_plan(const PlaneJob& j) {
  HorizontalPlan h;
  const int ch = j.src.channels;
  const int n = j.dst_w;
  const int taps = j.x.taps;
  h.col0 = j.x.start.front();
  h.n_in = (j.x.start.back() + taps - h.col0) * ch;
  if (has_avx512() && window_tables(j, h)) return h;
  h.base.clear();
  h.lane.clear();
  h.idx.resize(n);
  h.weight.resize(static_cast<size_t>(taps) * n);
  for (int i = 0; i < n; ++i) {
    h.idx[i] = (j.x.start[i] - h.col0) * ch;
    for (int t = 0; t < taps; ++t)
      h.weight[static_cast<size_t>(t) * n + i] = j.x.weight[static_cast<size_t>(i) * taps + t];
  }
  return h;
}

#ifdef LP_RESIZE_AVX512
// vertical_pass two rows at a time: words of both rows interleaved, then one multiply-add per
// pair. Unpacking and packing both work within 128-bit lanes, so the order comes back unchanged.
// acc: [n rounded up to 32] carries the sums when there are more than two taps.
__attribute__((target("avx512bw,avx512vl"))) void vertical_avx512(const uint8_t* src,
                                                                  std::ptrdiff_t stride, int taps,
                                                                  const int16_t* w, int n,
                                                                  int32_t* acc, int16_t* out) {
  const int pairs = (taps + 1) / 2;
  for (int p = 0; p < pairs; ++p) {
    const uint8_t* a = src + 2 * p * stride;
    const bool two = 2 * p + 1 < taps;
    const uint8_t* b = two ? a + stride : a;  // an odd last tap pairs with itself at weight 0
    const __m512i wt = _mm512_set1_epi32(static_cast<uint16_t>(w[2 * p]) |
                                         (two ? static_cast<int32_t>(w[2 * p + 1]) << 16 : 0));
    for (int k = 0; k < n; k += 2 * kLanes) {
      const __mmask32 m = n - k >= 2 * kLanes ? ~0u : (1u << (n - k)) - 1;
      const __m512i ra = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, a + k));
      const __m512i rb = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(m, b + k));
      __m512i lo = _mm512_madd_epi16(_mm512_unpacklo_epi16(ra, rb), wt);
      __m512i hi = _mm512_madd_epi16(_mm512_unpackhi_epi16(ra, rb), wt);
      if (p > 0) {
        lo = _mm512_add_epi32(lo, _mm512_loadu_si512(acc + k));
        hi = _mm512_add_epi32(hi, _mm512_loadu_si512(acc + k + kLanes));
      }
      if (p + 1 < pairs) {
        _mm512_storeu_si512(acc + k, lo);
        _mm512_storeu_si512(acc + k + kLanes, hi);
        continue;
      }
      // Sums are at most 255 << 14, so the signed saturation never triggers.
      const __m512i half = _mm512_set1_epi32(1 << 7);
      lo = _mm512_srai_epi32(_mm512_add_epi32(lo, half), 8);
      hi = _mm512_srai_epi32(_mm512_add_epi32(hi, half), 8);
      _mm512_mask_storeu_epi16(out + k, m, _mm512_packs_epi32(lo, hi));
    }
  }
}

// One block of 16 output samples; kPairs > 0 fixes the tap pairs for the common ratios.
template <int kPairs>
__attribute__((target("avx512bw,avx512vl"), always_inline)) inline __m128i horizontal_block(
    const int16_t* in, const int32_t*& base, const int16_t*& lane, const int16_t*& weight,
    int pairs) {
  if (kPairs > 0) pairs = kPairs;
  __m512i acc = _mm512_set1_epi32(1 << 19);
  for (int p = 0; p < pairs; ++p, lane += 2 * kLanes, weight += 2 * kLanes) {
    const int16_t* win = in + *base++;
    const __m512i v = _mm512_permutex2var_epi16(_mm512_loadu_si512(win), _mm512_loadu_si512(lane),
                                                _mm512_loadu_si512(win + kWindow / 2));
    // Both factors are below 1 << 15 and a pair sums to at most 255 << 20, so no overflow.
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(v, _mm512_loadu_si512(weight)));
  }
  // The sums are positive and below 256 << 20: unsigned saturation is the clamp.
  return _mm512_cvtusepi32_epi8(_mm512_srai_epi32(acc, 20));
}

// in: Q6 row with kWindow readable samples past its end; out: n bytes.
template <int kPairs>
__attribute__((target("avx512bw,avx512vl"))) void horizontal_avx512(const int16_t* in,
                                                                    const HorizontalPlan& h, int n,
                                                                    uint8_t* out) {
  const int32_t* base = h.base.data();
  const int16_t* lane = h.lane.data();
  const int16_t* weight = h.weight.data();
  const int pairs = h.pairs;
  int first = 0;
  for (; first + kLanes <= n; first += kLanes)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + first),
                     horizontal_block<kPairs>(in, base, lane, weight, pairs));
  if (first < n) {
    const __m128i bytes = horizontal_block<kPairs>(in, base, lane, weight, pairs);
    _mm_mask_storeu_epi8(out + first, static_cast<__mmask16>((1u << (n - first)) - 1), bytes);
  }
}
#endif

void fill_letterbox(const PlaneJob& j) {
  const Plane& d = j.dst;
  const int bytes = d.width * d.channels;
  auto fill = [&](uint8_t* p, int n) {
    if (d.channels == 1) {
      std::memset(p, j.fill[0], n);
    } else {
      for (int i = 0; i < n; i += 2) {
        p[i] = j.fill[0];
        p[i + 1] = j.fill[1];
      }
    }
  };
  for (int y = 0; y < d.height; ++y) {
    uint8_t* row = d.data + y * d.stride;
    if (y < j.dst_y || y >= j.dst_y + j.dst_h) {
      fill(row, bytes);
      continue;
    }
    fill(row, j.dst_x * d.channels);
    const int right = (j.dst_x + j.dst_w) * d.channels;
    fill(row + right, bytes - right);
  }
}

struct RowTask {
  const PlaneJob* job;
  const HorizontalPlan* plan;
  int row_begin, row_end;
  double order;  // where in the source these rows read, so all outputs sweep it together
};

struct Scratch {
  std::vector<int32_t> wide;  // portable: Q6 row; AVX-512: sums of more than two vertical taps
  std::vector<int32_t> acc;   // portable horizontal sums
  std::vector<int16_t> mid;   // AVX-512: Q6 row, then a window of slack the block loads run into
};

template <class T>
T* at_least(std::vector<T>& v, int n) {
  if (v.size() < static_cast<size_t>(n)) v.resize(n);
  return v.data();
}

void run_rows(const RowTask& task, Scratch& s) {
  const PlaneJob& j = *task.job;
  const HorizontalPlan& h = *task.plan;
  const int ch = j.src.channels;
  int32_t* wide = at_least(s.wide, h.n_in + 2 * kLanes);
  int32_t* acc = at_least(s.acc, h.pairs > 0 ? 0 : j.dst_w);
  int16_t* mid = at_least(s.mid, h.pairs > 0 ? h.n_in + kWindow : 0);
  for (int r = task.row_begin; r < task.row_end; ++r) {
    const uint8_t* src =
        j.src.data + static_cast<std::ptrdiff_t>(j.y.start[r]) * j.src.stride + h.col0 * ch;
    const int16_t* wy = &j.y.weight[static_cast<size_t>(r) * j.y.taps];
    uint8_t* out =
        j.dst.data + static_cast<std::ptrdiff_t>(j.dst_y + r) * j.dst.stride + j.dst_x * ch;
#ifdef LP_RESIZE_AVX512
    if (h.pairs > 0) {
      vertical_avx512(src, j.src.stride, j.y.taps, wy, h.n_in, wide, mid);
      const auto horizontal = h.pairs == 1   ? horizontal_avx512<1>
                              : h.pairs == 2 ? horizontal_avx512<2>
                                             : horizontal_avx512<0>;
      horizontal(mid, h, j.dst_w * ch, out);
      continue;
    }
#endif
    vertical_pass(src, j.src.stride, j.y.taps, wy, h.n_in, wide);
    for (int c = 0; c < ch; ++c)
      horizontal_pass(wide + c, h.idx.data(), h.weight.data(), j.x.taps, ch, j.dst_w, acc, out + c,
                      ch);
  }
}

}  // namespace

void resize_cpu(const std::vector<PlaneJob>& jobs) {
  constexpr int kRowsPerTask = 16;
  std::vector<HorizontalPlan> plans;
  plans.reserve(jobs.size());
  for (const PlaneJob& j : jobs) plans.push_back(horizontal_plan(j));
  std::vector<RowTask> tasks;
  for (size_t k = 0; k < jobs.size(); ++k) {
    const PlaneJob& j = jobs[k];
    if (j.dst_w != j.dst.width || j.dst_h != j.dst.height) fill_letterbox(j);
    for (int r = 0; r < j.dst_h; r += kRowsPerTask)
      tasks.push_back({&j, &plans[k], r, std::min(j.dst_h, r + kRowsPerTask),
                       static_cast<double>(r) / j.dst_h});
  }
  // NOTE: the order interleaves the outputs by source position: the rows a task reads were
  // just read by its neighbours, so the source crosses memory once for the whole ladder.
  std::stable_sort(tasks.begin(), tasks.end(),
                   [](const RowTask& a, const RowTask& b) { return a.order < b.order; });
  parallel_for(static_cast<int64_t>(tasks.size()), 1, [&](int64_t begin, int64_t end) {
    Scratch scratch;
    for (int64_t t = begin; t < end; ++t) run_rows(tasks[t], scratch);
  });
}

}  // namespace lpengine
