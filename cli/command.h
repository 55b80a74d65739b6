// Subcommands register themselves, one file each (cli/cmd_<name>.cpp), so adding a command
// touches no shared list: STERN_COMMAND(add_info_command) at namespace scope of its file.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace stern::cli {

using AddCommand = void (*)(CLI::App& app);

struct CommandRegistrar {
  CommandRegistrar(const char* name, AddCommand add);
};

// This process's arguments, argv[0] first (set by main).
const std::vector<std::string>& invocation();

}  // namespace stern::cli

#define STERN_COMMAND(fn) \
  static const ::stern::cli::CommandRegistrar stern_registrar_##fn(#fn, &fn)
