#include <algorithm>
#include <cstring>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "frames/resize.h"

namespace lpengine {
namespace {

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

// A plane job's horizontal taps rearranged for horizontal_pass, computed once per call.
struct HorizontalPlan {
  int col0 = 0;  // first source column any output reads
  int n_in = 0;  // source samples (columns x channels) the rows need
  std::vector<int32_t> idx;     // [n_out] start - col0, in samples
  std::vector<int16_t> weight;  // [taps, n_out]
};

HorizontalPlan horizontal_plan(const PlaneJob& j) {
  HorizontalPlan h;
  const int ch = j.src.channels;
  const int n = j.dst_w;
  const int taps = j.x.taps;
  h.col0 = j.x.start.front();
  h.n_in = (j.x.start.back() + taps - h.col0) * ch;
  h.idx.resize(n);
  h.weight.resize(static_cast<size_t>(taps) * n);
  for (int i = 0; i < n; ++i) {
    h.idx[i] = (j.x.start[i] - h.col0) * ch;
    for (int t = 0; t < taps; ++t)
      h.weight[static_cast<size_t>(t) * n + i] = j.x.weight[static_cast<size_t>(i) * taps + t];
  }
  return h;
}

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

void run_rows(const RowTask& task, std::vector<int32_t>& mid, std::vector<int32_t>& acc) {
  const PlaneJob& j = *task.job;
  const HorizontalPlan& h = *task.plan;
  const int ch = j.src.channels;
  mid.resize(h.n_in);
  acc.resize(j.dst_w);
  for (int r = task.row_begin; r < task.row_end; ++r) {
    const uint8_t* src = j.src.data + static_cast<std::ptrdiff_t>(j.y.start[r]) * j.src.stride +
                         h.col0 * ch;
    vertical_pass(src, j.src.stride, j.y.taps, &j.y.weight[static_cast<size_t>(r) * j.y.taps],
                  h.n_in, mid.data());
    uint8_t* out = j.dst.data + static_cast<std::ptrdiff_t>(j.dst_y + r) * j.dst.stride +
                   j.dst_x * ch;
    for (int c = 0; c < ch; ++c)
      horizontal_pass(mid.data() + c, h.idx.data(), h.weight.data(), j.x.taps, ch, j.dst_w,
                      acc.data(), out + c, ch);
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
    std::vector<int32_t> mid, acc;
    for (int64_t t = begin; t < end; ++t) run_rows(tasks[t], mid, acc);
  });
}

}  // namespace lpengine
