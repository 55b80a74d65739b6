#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "command.h"
#include "stern/error.h"

namespace stern::cli {
namespace {
std::vector<std::pair<std::string, AddCommand>>& registry() {
  static std::vector<std::pair<std::string, AddCommand>> commands;
  return commands;
}

std::vector<std::string>& arguments() {
  static std::vector<std::string> args;
  return args;
}
}  // namespace

const std::vector<std::string>& invocation() { return arguments(); }

CommandRegistrar::CommandRegistrar(const char* name, AddCommand add) {
  registry().emplace_back(name, add);
}
}  // namespace stern::cli

int main(int argc, char** argv) {
  stern::cli::arguments().assign(argv, argv + argc);
  CLI::App app{"stern: sparse ternary networks, trained and run fast"};
  app.require_subcommand(1);
  auto commands = stern::cli::registry();
  std::sort(commands.begin(), commands.end());
  for (const auto& [name, add] : commands) add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const stern::Error& e) {
    std::fprintf(stderr, "stern: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stern: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
