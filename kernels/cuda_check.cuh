// Turns CUDA errors into exceptions (RuntimeError in Python) that name the failing call.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#define LP_CUDA_CHECK(expr)                                                             \
  do {                                                                                  \
    const cudaError_t lp_err = (expr);                                                  \
    if (lp_err != cudaSuccess)                                                          \
      throw std::runtime_error(std::string(#expr) + ": " + cudaGetErrorString(lp_err)); \
  } while (0)

// Checks the launch, then waits: ops return with their output ready for the next host call.
#define LP_CUDA_LAUNCHED()                   \
  do {                                       \
    LP_CUDA_CHECK(cudaGetLastError());       \
    LP_CUDA_CHECK(cudaStreamSynchronize(0)); \
  } while (0)
