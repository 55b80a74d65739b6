// Errors: every failure in stern is a stern::Error whose message is one line that names the
// file (or tensor, node, field), the problem and what was expected. The CLI prints it and
// exits non-zero; nothing is printed from inside the library.
#pragma once
#include <stdexcept>
#include <string>

namespace stern {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds "<where>: <what>" so call sites read as one sentence.
[[noreturn]] inline void fail(const std::string& where, const std::string& what) {
  throw Error(where + ": " + what);
}

}  // namespace stern
