// The commands that need LibTorch live in stern-train, built next to stern with
// STERN_BUILD_TRAIN (cli/CMakeLists.txt says why they are a second executable); stern runs
// it in its own place for them, with the same arguments.
#pragma once
#include <string>

namespace stern::cli {

// Replaces this process with stern-train from stern's own directory, given this process's
// arguments. Throws stern::Error naming `what` when there is none to run.
[[noreturn]] void run_training_build(const std::string& what);

}  // namespace stern::cli
