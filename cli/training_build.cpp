#include "training_build.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "command.h"
#include "stern/error.h"

namespace stern::cli {

void run_training_build(const std::string& what) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::string path = (ec ? std::filesystem::path("stern-train") : self.parent_path() / "stern-train").string();
  std::vector<std::string> args = invocation();  // argv[0] as typed: usage lines say `stern train`
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(path.c_str(), argv.data());
  fail(what, "needs the LibTorch build of stern, " + path + " (" + std::strerror(errno) +
                 "): build stern with -DSTERN_BUILD_TRAIN=ON, the default");
}

namespace {

// `stern train ...` runs `stern-train train ...`: its options are stern-train's to parse
// (and to list under --help), so this stub takes every argument as it comes.
void add_train_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("train", "train a network with a recipe and export it to .stern (runs stern-train)");
  cmd->set_help_flag();
  cmd->prefix_command();
  cmd->callback([] { run_training_build("stern train"); });
}

}  // namespace

STERN_COMMAND(add_train_command);

}  // namespace stern::cli
