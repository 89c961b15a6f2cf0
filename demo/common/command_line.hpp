// SPDX-License-Identifier: MIT
// command_line.hpp - option parsing shared by the demos.
//
// Every demo takes `--name VALUE` (or `--name=VALUE`) options and `--help`.
// Anything it does not understand (an unknown option, a missing or
// malformed value, a stray argument) gets one line saying what is wrong, a
// hint to try --help, and exit status 2, before any socket or process is
// created. Values are checked when the demo reads them, which it does first
// thing, so a bad value is still reported before any work starts.
#ifndef QIO_DEMO_COMMAND_LINE_HPP
#define QIO_DEMO_COMMAND_LINE_HPP

#include <cstdint>          // std::uint64_t, whole-number values
#include <functional>       // std::less<>, heterogeneous map lookup
#include <initializer_list> // the allowed words of a choice
#include <map>              // std::map, the values given
#include <string>           // std::string
#include <string_view>      // std::string_view
#include <vector>           // std::vector, the option table

namespace demo {

struct OptionSpec {
  std::string_view name;       // without the leading "--"
  std::string_view value_name; // shown in --help; empty for a flag without a value
  std::string_view help;       // one line, with the default
};

struct Usage {
  std::string_view program;     // e.g. "qio-deadlock-demo"
  std::string_view synopsis;    // what follows the program name in "usage:"
  std::string_view description; // printed by --help above the options
  std::vector<OptionSpec> options;
};

class CommandLine {
public:
  // Parses argv[first] onwards. --help prints the usage to stdout and exits
  // 0; anything not in `usage.options` is rejected (exit 2). `usage` must
  // outlive the object.
  CommandLine(const Usage& usage, int argc, char** argv, int first = 1);

  // True if the flag (or option) was given.
  bool given(std::string_view name) const;
  // The option's value, or `fallback` if it was not given.
  std::string_view text(std::string_view name, std::string_view fallback) const;
  // A whole number in [minimum, maximum], or `fallback`; anything else is
  // rejected naming the option and the range.
  std::uint64_t number(std::string_view name, std::uint64_t fallback, std::uint64_t minimum,
                       std::uint64_t maximum) const;
  // A number of seconds (decimals allowed) in [minimum, maximum].
  double seconds(std::string_view name, double fallback, double minimum, double maximum) const;
  // One of the `allowed` words, or `fallback`.
  std::string_view choice(std::string_view name, std::string_view fallback,
                          std::initializer_list<std::string_view> allowed) const;

  // Prints "program: message" and the --help hint to stderr; exits 2.
  [[noreturn]] void reject(const std::string& message) const;

private:
  const OptionSpec* find(std::string_view name) const;
  void print_help() const;

  const Usage& usage_;
  std::map<std::string, std::string, std::less<>> values_;
};

} // namespace demo

#endif // QIO_DEMO_COMMAND_LINE_HPP
