// AVX-512 BW + VBMI kernel for yuv_to_rgb's uint8 packed output, picked at run time by
// convert_cpu.cpp. It computes the same Q14 formula (YuvToRgbFixed) bit for bit.
#include <cstdint>

#include "frames/colorspace.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LP_AVX512_ENABLED 1
#endif

namespace lpengine {

bool rgb24_avx512_supported();
void rgb24_rows_avx512(const uint8_t* y0, const uint8_t* y1, const uint8_t* u, const uint8_t* v,
                       int step, int w, const YuvToRgbFixed& k, uint8_t* out);

#ifdef LP_AVX512_ENABLED

#define LP_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))
#define LP_AVX512_INLINE LP_AVX512 inline __attribute__((always_inline))

namespace {

// Everything runs in 16-bit lanes and stays exact: for a product X = x t (x <= 255,
// 0 <= t < 2^16) with x4 = 4 x, mulhi(x4, t) = X >> 14 and mullo(x4, t) = 4 (X mod 2^14), so a
// Q14 value is a quotient h and a remainder l kept as 4 l, whose 16-bit sums carry exactly when
// the remainders reach 2^14. With Y ky = yh 2^14 + yl and a chroma term C = ch 2^14 + cl,
//   (Y ky + C) >> 14 == yh + ch + (4 yl > ~(4 cl) as uint16),
// so each channel is an add, a compare and a masked increment per 32 pixels.

// Byte offsets of pixel p of 64 in packus(even, odd): the even/odd words come from vpmaddubsw,
// whose pairs are the 2x2 blocks' columns, so the chroma needs no duplication.
constexpr int packed_pos(int p) { return (p >> 4) * 16 + (p & 1) * 8 + ((p >> 1) & 7); }

// vpermt2b indices that interleave packed R (first table) and G (second) into 3 x 64 bytes of
// RGB24; the B bytes are vpermb indices into packed B, merged under the blue masks.
struct Interleave {
  alignas(64) uint8_t idx[3][64] = {};
  uint64_t blue[3] = {};
  constexpr Interleave() {
    for (int g = 0; g < 192; ++g) {
      const int c = g % 3;
      idx[g / 64][g % 64] = static_cast<uint8_t>(packed_pos(g / 3) + (c == 1 ? 64 : 0));
      if (c == 2) blue[g / 64] |= uint64_t{1} << (g % 64);
    }
  }
};
constexpr Interleave kInterleave;

// A Q14 term split as above: h (quotient) and n = ~(4 remainder), ready for the luma compare.
struct Term {
  __m512i h, n;
};

// Adds the constant kc (any int) to h 2^14 + l / 4, where l is 4 (remainder) with a wrapping sum.
LP_AVX512_INLINE Term add_const(__m512i h, __m512i l, int kc) {
  const __m512i s = _mm512_add_epi16(l, _mm512_set1_epi16(static_cast<int16_t>((kc & 0x3FFF) * 4)));
  h = _mm512_add_epi16(h, _mm512_set1_epi16(static_cast<int16_t>(kc >> kFixedShift)));
  h = _mm512_mask_sub_epi16(h, _mm512_cmplt_epu16_mask(s, l), h, _mm512_set1_epi16(-1));
  return {h, _mm512_ternarylogic_epi32(s, s, s, 0x55)};
}

// x4: [32] words 4 x; the term t x + kc.
LP_AVX512_INLINE Term term1(__m512i x4, int t, int kc) {
  const __m512i tv = _mm512_set1_epi16(static_cast<int16_t>(t));
  return add_const(_mm512_mulhi_epu16(x4, tv), _mm512_mullo_epi16(x4, tv), kc);
}

// a4, b4: [32] words 4 a, 4 b; the term ta a + tb b + kc.
LP_AVX512_INLINE Term term2(__m512i a4, int ta, __m512i b4, int tb, int kc) {
  const __m512i tav = _mm512_set1_epi16(static_cast<int16_t>(ta));
  const __m512i tbv = _mm512_set1_epi16(static_cast<int16_t>(tb));
  const __m512i la = _mm512_mullo_epi16(a4, tav);
  const __m512i l = _mm512_add_epi16(la, _mm512_mullo_epi16(b4, tbv));
  __m512i h = _mm512_add_epi16(_mm512_mulhi_epu16(a4, tav), _mm512_mulhi_epu16(b4, tbv));
  h = _mm512_mask_sub_epi16(h, _mm512_cmplt_epu16_mask(l, la), h, _mm512_set1_epi16(-1));
  return add_const(h, l, kc);
}

// yh, yl4: one parity of a luma row split as above; the channel's signed words.
LP_AVX512_INLINE __m512i channel(__m512i yh, __m512i yl4, const Term& c) {
  const __m512i s = _mm512_add_epi16(yh, c.h);
  return _mm512_mask_sub_epi16(s, _mm512_cmpgt_epu16_mask(yl4, c.n), s, _mm512_set1_epi16(-1));
}

inline uint64_t low_bits(int n) {
  return n <= 0 ? 0 : n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
}

// One 64-pixel luma row y (n valid pixels when kTail) with its chroma terms r, g, b.
template <bool kTail>
LP_AVX512_INLINE void row64(const uint8_t* y, int n, __m512i ky, const Term& r, const Term& g,
                            const Term& b, uint8_t* out) {
  const __m512i yb = kTail ? _mm512_maskz_loadu_epi8(low_bits(n), y) : _mm512_loadu_si512(y);
  // 4 Y of the even and odd columns; x 4 is the scale the split above needs.
  const __m512i ye = _mm512_maddubs_epi16(yb, _mm512_set1_epi16(4));
  const __m512i yo = _mm512_maddubs_epi16(yb, _mm512_set1_epi16(4 << 8));
  const __m512i he = _mm512_mulhi_epu16(ye, ky), le = _mm512_mullo_epi16(ye, ky);
  const __m512i ho = _mm512_mulhi_epu16(yo, ky), lo = _mm512_mullo_epi16(yo, ky);
  // packus saturates to [0, 255], which is the formula's clamp.
  const __m512i pr = _mm512_packus_epi16(channel(he, le, r), channel(ho, lo, r));
  const __m512i pg = _mm512_packus_epi16(channel(he, le, g), channel(ho, lo, g));
  const __m512i pb = _mm512_packus_epi16(channel(he, le, b), channel(ho, lo, b));
  for (int j = 0; j < 3; ++j) {
    const __m512i idx = _mm512_load_si512(kInterleave.idx[j]);
    __m512i o = _mm512_permutex2var_epi8(pr, idx, pg);
    o = _mm512_mask_permutexvar_epi8(o, kInterleave.blue[j], idx, pb);
    if (kTail) {
      _mm512_mask_storeu_epi8(out + 64 * j, low_bits(3 * n - 64 * j), o);
    } else {
      _mm512_storeu_si512(out + 64 * j, o);
    }
  }
}

// Columns [x, x + n) of both rows, n <= 64 (n < 64 only when kTail).
template <int kStep, bool kTail>
LP_AVX512_INLINE void block(const uint8_t* y0, const uint8_t* y1, const uint8_t* u,
                            const uint8_t* v, int x, int n, const YuvToRgbFixed& k, uint8_t* o0,
                            uint8_t* o1) {
  __m512i u4, v4;  // [32] words 4 U, 4 V
  if (kStep == 1) {
    const __mmask32 m = static_cast<__mmask32>(low_bits(n / 2));
    const __m256i ub = kTail ? _mm256_maskz_loadu_epi8(m, u + x / 2)
                             : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(u + x / 2));
    const __m256i vb = kTail ? _mm256_maskz_loadu_epi8(m, v + x / 2)
                             : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + x / 2));
    u4 = _mm512_slli_epi16(_mm512_cvtepu8_epi16(ub), 2);
    v4 = _mm512_slli_epi16(_mm512_cvtepu8_epi16(vb), 2);
  } else {  // NV12: u points at interleaved U, V bytes
    const __m512i uv =
        kTail ? _mm512_maskz_loadu_epi8(low_bits(n), u + x) : _mm512_loadu_si512(u + x);
    u4 = _mm512_maddubs_epi16(uv, _mm512_set1_epi16(4));
    v4 = _mm512_maddubs_epi16(uv, _mm512_set1_epi16(4 << 8));
  }
  // Y ky + C with C = the chroma product, the -y_off ky offset and the rounding half. G's
  // negative coefficients act on 255 - U and 255 - V so that both products stay unsigned.
  const int base = (1 << (kFixedShift - 1)) - k.y_off * k.ky;
  const Term r = term1(v4, k.rv, base - 128 * k.rv);
  const Term b = term1(u4, k.bu, base - 128 * k.bu);
  const __m512i c1020 = _mm512_set1_epi16(1020);
  const Term g = term2(_mm512_sub_epi16(c1020, u4), k.gu, _mm512_sub_epi16(c1020, v4), k.gv,
                       base - 127 * (k.gu + k.gv));
  const __m512i ky = _mm512_set1_epi16(static_cast<int16_t>(k.ky));
  row64<kTail>(y0 + x, n, ky, r, g, b, o0 + 3 * x);
  row64<kTail>(y1 + x, n, ky, r, g, b, o1 + 3 * x);
}

template <int kStep>
LP_AVX512 void rows(const uint8_t* y0, const uint8_t* y1, const uint8_t* u, const uint8_t* v, int w,
                    const YuvToRgbFixed& k, uint8_t* out) {
  int x = 0;
  for (; x + 64 <= w; x += 64) block<kStep, false>(y0, y1, u, v, x, 64, k, out, out + 3 * w);
  if (x < w) block<kStep, true>(y0, y1, u, v, x, w - x, k, out, out + 3 * w);
}

}  // namespace

bool rgb24_avx512_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512vbmi");
}

// y0, y1: [w] luma rows; u, v: [w / 2] chroma samples step bytes apart (v = u + 1 for NV12);
// out: [2, w, 3].
void rgb24_rows_avx512(const uint8_t* y0, const uint8_t* y1, const uint8_t* u, const uint8_t* v,
                       int step, int w, const YuvToRgbFixed& k, uint8_t* out) {
  if (step == 1) {
    rows<1>(y0, y1, u, v, w, k, out);
  } else {
    rows<2>(y0, y1, u, v, w, k, out);
  }
}

#else

bool rgb24_avx512_supported() { return false; }
void rgb24_rows_avx512(const uint8_t*, const uint8_t*, const uint8_t*, const uint8_t*, int, int,
                       const YuvToRgbFixed&, uint8_t*) {}

#endif

}  // namespace lpengine
