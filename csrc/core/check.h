// Argument checks shared by every op. pybind11 maps std::invalid_argument to Python's ValueError.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace lpengine {

// Thrown for a bad argument: the message names the argument, what was expected and what came.
struct ArgError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

template <typename Got>
[[noreturn]] void arg_error(const char* arg, const std::string& expected, const Got& got) {
  std::ostringstream msg;
  msg << arg << ": expected " << expected << ", got " << got;
  throw ArgError(msg.str());
}

#define LP_CHECK_ARG(cond, arg, expected, got)              \
  do {                                                      \
    if (!(cond)) ::lpengine::arg_error(arg, expected, got); \
  } while (0)

}  // namespace lpengine
