// SPDX-License-Identifier: MIT
// cxx_consumer.cpp - a C++ program built the way a user of the installed
// package or of the meson subproject builds one: qio::Engine and
// xdr_glue's record writer and reader over a socket pair. Exits 0 when a
// record goes out through the engine and comes back whole.
#include <sys/socket.h> // socketpair
#include <unistd.h>     // close

#include <cstdio>  // std::fprintf
#include <cstring> // std::strcmp
#include <string>  // std::string
#include <vector>  // std::vector

#include <qio/engine.hpp>
#include <qio/qio.h> // QIO_VERSION_STRING, qio_version
#include <xdr_glue/record_reader.hpp>
#include <xdr_glue/record_writer.hpp>

namespace {

int fail(const char* what) {
  std::fprintf(stderr, "cxx_consumer: %s\n", what);
  return 1;
}

} // namespace

int main() {
  if (std::strcmp(qio_version(), QIO_VERSION_STRING) != 0)
    return fail("the library's version differs from the headers'");
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sockets) != 0)
    return fail("socketpair failed");
  std::vector<char> received;
  {
    qio::Engine engine;
    if (engine.configure(sockets[0], {}))
      return fail("configure failed");
    xdr_glue::RecordWriter writer(engine, sockets[0]);
    const std::string text = "one record";
    if (writer.write_record(text))
      return fail("write_record failed");
    if (engine.wait(sockets[0], 1000))
      return fail("the record did not leave");
    xdr_glue::RecordReader reader(sockets[1]);
    if (reader.fill() || reader.next(received))
      return fail("the record did not come back");
    if (std::string(received.begin(), received.end()) != text)
      return fail("the record came back changed");
  }
  ::close(sockets[0]);
  ::close(sockets[1]);
  std::puts("cxx_consumer: OK");
  return 0;
}
