// SPDX-License-Identifier: MIT
// json.cpp - the machine-readable results (--json FILE).
#include <cmath>  // std::isfinite
#include <cstdio> // std::fopen
#include <memory> // std::unique_ptr, the file

#include <fmt/format.h>

#include "report.hpp"

namespace bench {
namespace {

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) < 0x20)
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    else
      out += c;
  }
  return out + "\"";
}

std::string number(double value) {
  return std::isfinite(value) ? fmt::format("{:.6g}", value) : "null";
}

std::string boolean(bool value) { return value ? "true" : "false"; }

// The numbers of a list, comma-separated, for inside [ ].
std::string numbers(const std::vector<double>& values) {
  std::string text;
  for (const double value : values)
    text += (text.empty() ? "" : ", ") + number(value);
  return text;
}

// A JSON array of `items`, one a line, each rendered by `render`.
template <class Item, class Render>
std::string array(const std::vector<Item>& items, Render render) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i ? ",\n    " : "\n    ") + render(items[i]);
  return out + (items.empty() ? "]" : "\n  ]");
}

std::string machine_json(const Machine& machine) {
  return fmt::format(
      "{{\"processors\": {}, \"cpu_model\": {}, \"kernel\": {}, \"load_average\": {}, "
      "\"compiler\": {}, \"libevent\": {}, \"libuv\": {}, \"unix_send_buffer\": {}, "
      "\"tcp_send_buffer\": {}}}",
      machine.processors, quoted(machine.cpu_model), quoted(machine.kernel),
      quoted(machine.load_average), quoted(machine.compiler), quoted(machine.libevent_version),
      quoted(machine.libuv_version), machine.unix_send_buffer, quoted(machine.tcp_send_buffer));
}

std::string settings_json(const Settings& settings) {
  return fmt::format("{{\"quick\": {}, \"repetitions\": {}, \"run_seconds\": {}, "
                     "\"backlog_bytes\": {}, \"content_checked\": {}}}",
                     boolean(settings.quick), settings.repetitions, number(settings.run_seconds),
                     settings.backlog_bytes, boolean(settings.content_checked));
}

std::string throughput_json(const ThroughputFigure& figure) {
  return fmt::format("{{\"transport\": {}, \"message_size\": {}, \"writer\": {}, \"runs\": {}, "
                     "\"mib_per_second_by_round\": [{}], "
                     "\"messages_per_second\": {}, \"mib_per_second\": {}, "
                     "\"percent_of_limit\": {}, \"writes_per_mib\": {}, "
                     "\"eagain_per_mib\": {}, \"writer_user_ns_per_message\": {}, "
                     "\"writer_system_ns_per_message\": {}}}",
                     quoted(transport_name(figure.transport)), figure.message_size,
                     quoted(implementation_name(figure.implementation)), figure.runs,
                     numbers(figure.round_rates),
                     number(figure.messages_per_second), number(figure.mib_per_second),
                     number(figure.percent_of_limit), number(figure.writes_per_mib),
                     number(figure.would_block_per_mib), number(figure.writer_user_ns_per_message),
                     number(figure.writer_system_ns_per_message));
}

std::string enqueue_json(const EnqueueFigure& figure) {
  return fmt::format("{{\"subject\": {}, \"messages\": {}, \"ns_per_message\": {}, "
                     "\"bytes_per_request\": {}, \"instructions_per_message\": {}, "
                     "\"instructions_note\": {}, \"error\": {}}}",
                     quoted(figure.subject), figure.messages, number(figure.ns_per_message),
                     number(figure.bytes_per_request),
                     figure.instructions ? number(*figure.instructions) : "null",
                     quoted(figure.instructions_note), quoted(figure.error));
}

std::string channels_json(const ChannelsFigures& figures) {
  return fmt::format("{{\"channels\": {}, \"peers_in_child\": {}, \"idle_flush_ns\": {}, "
                     "\"busy_flush_ns\": {}, \"own_write_ns\": {}, \"busy_over_own_write\": {}, "
                     "\"idle_flush_alone_ns\": {}, \"busy_flush_alone_ns\": {}, \"error\": {}}}",
                     figures.channels, boolean(figures.peers_in_child),
                     number(figures.idle_flush_ns), number(figures.busy_flush_ns),
                     number(figures.own_write_ns), number(figures.busy_over_own_write),
                     number(figures.idle_flush_alone_ns), number(figures.busy_flush_alone_ns),
                     quoted(figures.error));
}

std::string fanout_row_json(const FanoutRow& row) {
  return fmt::format("{{\"sender\": {}, \"ns_per_message\": {}, \"writes_per_message\": {}, "
                     "\"over_bare\": {}}}",
                     quoted(fanout_sender_name(row.sender)), number(row.ns_per_message),
                     number(row.writes_per_message), number(row.over_bare));
}

std::string fanout_json(const FanoutFigures& figures) {
  return fmt::format("{{\"transport\": {}, \"peers\": {}, \"ticks\": {}, \"message_size\": {}, "
                     "\"skipped\": {}, \"error\": {}, \"rows\": {}}}",
                     quoted(transport_name(figures.transport)), figures.peers, figures.ticks,
                     figures.message_size, quoted(figures.skipped), quoted(figures.error),
                     array(figures.rows, fanout_row_json));
}

std::string datagram_row_json(const DatagramRow& row) {
  return fmt::format("{{\"datagrams\": {}, \"runs\": {}, \"drain_seconds\": {}, "
                     "\"ns_per_datagram\": {}, \"bare_ns_per_datagram\": {}, \"skipped\": {}}}",
                     row.datagrams, row.runs, number(row.drain_seconds),
                     number(row.ns_per_datagram), number(row.bare_ns_per_datagram),
                     quoted(row.skipped));
}

std::string datagrams_json(const DatagramFigures& figures) {
  return fmt::format("{{\"datagram_size\": {}, \"cap_seconds\": {}, \"error\": {}, "
                     "\"rows\": {}}}",
                     figures.datagram_size, number(figures.cap_seconds), quoted(figures.error),
                     array(figures.rows, datagram_row_json));
}

std::string xdr_figure_json(const XdrFigure& figure) {
  return fmt::format("{{\"transport\": {}, \"writer\": {}, \"runs\": {}, "
                     "\"records_per_second_by_round\": [{}], \"records_per_second\": {}, "
                     "\"mib_per_second\": {}, \"writes_per_mib\": {}, \"eagain_per_mib\": {}, "
                     "\"writer_user_ns_per_record\": {}, \"writer_system_ns_per_record\": {}}}",
                     quoted(transport_name(figure.transport)), quoted(xdr_writer_name(figure.writer)),
                     figure.runs, numbers(figure.round_rates), number(figure.records_per_second),
                     number(figure.mib_per_second), number(figure.writes_per_mib),
                     number(figure.would_block_per_mib), number(figure.user_ns_per_record),
                     number(figure.system_ns_per_record));
}

std::string xdr_json(const XdrFigures& figures) {
  std::string list = "[";
  for (std::size_t i = 0; i < figures.figures.size(); ++i)
    list += (i ? ",\n      " : "\n      ") + xdr_figure_json(figures.figures[i]);
  list += figures.figures.empty() ? "]" : "\n    ]";
  return fmt::format("{{\"available\": {}, \"reason\": {}, \"record_bytes\": 256, "
                     "\"repetitions\": {}, \"run_seconds\": {}, \"figures\": {}}}",
                     boolean(figures.available), quoted(figures.reason), figures.repetitions,
                     number(figures.run_seconds), list);
}

std::string target_json(const TargetCheck& check) {
  const char* verdict = check.verdict == Verdict::met      ? "met"
                        : check.verdict == Verdict::missed ? "missed"
                                                           : "not measured";
  return fmt::format("{{\"target\": {}, \"measured\": {}, \"verdict\": {}}}", quoted(check.target),
                     quoted(check.measured), quoted(verdict));
}

} // namespace

bool write_json(const std::string& path, const Results& results,
                const std::vector<TargetCheck>& checks) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "w"),
                                                             std::fclose);
  if (!file)
    return false;
  const std::string xdr = results.xdr ? xdr_json(*results.xdr) : "null";
  fmt::print(file.get(),
             "{{\n  \"machine\": {},\n  \"settings\": {},\n  \"throughput\": {},\n"
             "  \"enqueue\": {},\n  \"channels\": {},\n  \"fanout\": {},\n"
             "  \"datagrams\": {},\n  \"xdr\": {},\n  \"targets\": {},\n"
             "  \"failures\": {}\n}}\n",
             machine_json(results.machine), settings_json(results.settings),
             array(results.throughput, throughput_json), array(results.enqueue, enqueue_json),
             results.channels ? channels_json(*results.channels) : "null",
             array(results.fanout, fanout_json),
             results.datagrams ? datagrams_json(*results.datagrams) : "null", xdr,
             array(checks, target_json),
             array(results.failures, [](const std::string& failure) { return quoted(failure); }));
  return std::fflush(file.get()) == 0 && std::ferror(file.get()) == 0;
}

} // namespace bench
