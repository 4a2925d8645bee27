# LPENGINE_CUDA=AUTO|ON|OFF decides whether kernels/ is compiled into lpengine._core.
#   AUTO: compile when a CUDA toolkit is found, otherwise build the CPU-only core.
#   ON:   a missing toolkit is a configure error (never a silent CPU-only build).
#   OFF:  CPU-only.
# The architectures come from LPENGINE_CUDA_ARCHS (or CMAKE_CUDA_ARCHITECTURES) and are set
# before enable_language(CUDA), so every CUDA target is created with them.
include(CheckLanguage)

set(LPENGINE_CUDA "AUTO" CACHE STRING "Compile CUDA kernels: AUTO, ON or OFF")
set_property(CACHE LPENGINE_CUDA PROPERTY STRINGS AUTO ON OFF)
# Turing to Blackwell consumer; H100 is 90. PTX for 90 keeps newer cards working via JIT.
set(LPENGINE_DEFAULT_CUDA_ARCHS "75-real;80-real;86-real;89-real;90-real;120-real;90-virtual")
if(DEFINED ENV{LPENGINE_CUDA_ARCHS} AND NOT "$ENV{LPENGINE_CUDA_ARCHS}" STREQUAL "")
  set(LPENGINE_DEFAULT_CUDA_ARCHS "$ENV{LPENGINE_CUDA_ARCHS}")
endif()

string(TOUPPER "${LPENGINE_CUDA}" _lp_cuda_mode)
set(LPENGINE_WITH_CUDA OFF)
if(NOT _lp_cuda_mode STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER)
    find_program(_lp_nvcc nvcc HINTS ENV CUDA_HOME ENV CUDA_PATH PATH_SUFFIXES bin
                 PATHS /usr/local/cuda/bin)
    if(_lp_nvcc)
      set(CMAKE_CUDA_COMPILER "${_lp_nvcc}")
    endif()
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES "${LPENGINE_DEFAULT_CUDA_ARCHS}")
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(LPENGINE_WITH_CUDA ON)
    message(STATUS "lpengine: CUDA ${CMAKE_CUDA_COMPILER_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES}")
  elseif(_lp_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "LPENGINE_CUDA=ON but no CUDA compiler was found (set CUDA_HOME or CMAKE_CUDA_COMPILER)")
  else()
    message(STATUS "lpengine: no CUDA toolkit found, building the CPU-only core")
  endif()
endif()

# Adds every kernels/*.cu to TARGET and links the static CUDA runtime, so the wheel needs only the driver.
function(lpengine_add_cuda_kernels target kernel_dir)
  file(GLOB _lp_cu CONFIGURE_DEPENDS ${kernel_dir}/*.cu)
  target_sources(${target} PRIVATE ${_lp_cu})
  string(REPLACE ";" "," _lp_archs "${CMAKE_CUDA_ARCHITECTURES}")
  target_compile_definitions(${target} PRIVATE LPENGINE_WITH_CUDA=1
    LPENGINE_CUDA_ARCHS="${_lp_archs}")
  set_target_properties(${target} PROPERTIES CUDA_RUNTIME_LIBRARY Static
    CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-O3>)
  target_link_libraries(${target} PRIVATE CUDA::cudart_static)
endfunction()
