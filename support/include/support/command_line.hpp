// SPDX-License-Identifier: MIT
// command_line.hpp - the one option parser of every program (the demos,
// qio-soak, qio-bench), on getopt_long.
//
// Every option is `--name VALUE` or `--name=VALUE` (or a flag, `--name`);
// a unique prefix of a name will do, as with any GNU program. `--help` (or
// `-h`) prints the usage, each option with its default, and exits 0.
// Anything else wrong (an unknown option, a missing or malformed value, a
// stray argument) is one line on stderr, "qio-soak: unknown option --frob
// (try --help)", and exit status 2, before any socket or process exists:
// values are checked when the program reads them, which it does first.
//
//   const support::Usage usage{"qio-soak", "[--duration SECONDS]", "Runs ...",
//                              {{"duration", "SECONDS", "how long (default: 10)"}}};
//   const support::CommandLine line(usage, argc, argv);
//   const double seconds = line.seconds("duration", 10, 0.001, 604800);
#ifndef QIO_SUPPORT_COMMAND_LINE_HPP
#define QIO_SUPPORT_COMMAND_LINE_HPP

#include <cstddef>          // std::size_t
#include <cstdint>          // std::uint64_t, whole-number values
#include <functional>       // std::less<>, heterogeneous map lookup
#include <initializer_list> // the allowed words of a choice
#include <map>              // the values given
#include <string>           // std::string
#include <string_view>      // std::string_view
#include <vector>           // the option table, the operands

namespace support {

struct Option {
  std::string name;       // without the leading "--"
  std::string value_name; // shown in --help ("N", "SECONDS"); empty: a flag without a value
  std::string help;       // with the default; each further line is indented under the first
};

struct Usage {
  std::string program;     // e.g. "qio-soak"
  std::string synopsis;    // what follows the program's name on the usage line
  std::string description; // printed by --help between the usage line and the options
  std::vector<Option> options;
  // Arguments that are not options a program takes at most (the rpc
  // demo's mode word); the parser rejects any beyond.
  std::size_t most_operands = 0;
};

class CommandLine {
public:
  // Parses argv[1] onwards; `usage` must outlive the object.
  CommandLine(const Usage& usage, int argc, char** argv);

  // True if the option was given.
  bool given(std::string_view name) const;
  // The option's value (the last one given), or `fallback`.
  std::string_view text(std::string_view name, std::string_view fallback) const;
  // A whole number in [minimum, maximum], or `fallback` if not given;
  // anything else is rejected naming the option and the range.
  std::uint64_t number(std::string_view name, std::uint64_t fallback, std::uint64_t minimum,
                       std::uint64_t maximum) const;
  // A number of seconds (decimals allowed) in [minimum, maximum].
  double seconds(std::string_view name, double fallback, double minimum, double maximum) const;
  // One of the `allowed` words, or `fallback`.
  std::string_view choice(std::string_view name, std::string_view fallback,
                          std::initializer_list<std::string_view> allowed) const;
  // The arguments that are not options, in order.
  const std::vector<std::string>& operands() const noexcept { return operands_; }

  // Prints "program: message (try --help)" to stderr and exits 2.
  [[noreturn]] void reject(std::string_view message) const;

private:
  void take(int code, const char* value);
  [[noreturn]] void reject_bad_option(int code, const char* argument) const;
  void print_help() const;

  const Usage& usage_;
  std::map<std::string, std::string, std::less<>> values_;
  std::vector<std::string> operands_;
};

} // namespace support

#endif // QIO_SUPPORT_COMMAND_LINE_HPP
