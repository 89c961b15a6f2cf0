// SPDX-License-Identifier: MIT
// xdr_glue/record_reader.hpp - non-blocking input of XDR records from a
// descriptor, for select-loop programs (the C++ API; xdr_qio.h has the C
// form).
//
// A RecordReader reads whatever the descriptor holds without ever blocking,
// feeds it to a RecordAssembler and hands out complete records, which it
// can decode with any xdrproc_t: rpcgen-generated or libtirpc's own.
//
//   xdr_glue::RecordReader reader(socket);   // in the select loop:
//   reader.fill();                           // when socket is readable
//   my_request request{};
//   std::error_code status;
//   while (!(status = reader.decode((xdrproc_t)xdr_my_request, &request))) {
//     handle(request);
//     xdr_free((xdrproc_t)xdr_my_request, &request);
//   }
//   if (status != std::errc::resource_unavailable_try_again) close_connection();
#ifndef XDR_GLUE_RECORD_READER_HPP
#define XDR_GLUE_RECORD_READER_HPP

#include <rpc/rpc.h> // XDR, xdrproc_t (libtirpc)

#include <cstddef>      // std::size_t
#include <span>         // std::span, a record's bytes
#include <system_error> // std::error_code
#include <vector>       // std::vector, records and the read buffer

#include "xdr_glue/export.h" // XDR_GLUE_EXPORT, what libxdr_glue exports
#include "xdr_glue/record_assembler.hpp"

namespace xdr_glue {

// Decodes one whole record with `decode` (libtirpc's xdrmem stream). Bytes
// after what `decode` consumed are ignored, as libtirpc's servers do.
// Returns {} or EBADMSG when `decode` fails; then `object` has already been
// released with xdr_free, so the caller has nothing to free.
XDR_GLUE_EXPORT std::error_code decode_record(std::span<char> record, xdrproc_t decode,
                                              void* object);

class RecordReader {
public:
  // `fd` may be any readable descriptor (a socket, pipe, FIFO...), whether
  // or not it is a qio channel and whether or not it is O_NONBLOCK: the
  // reader never waits for it. The reader does not own or close `fd`.
  XDR_GLUE_EXPORT explicit RecordReader(int fd, ReaderLimits limits = {});

  // Reads what the descriptor holds now, without blocking, until it would
  // block, the input ends or fails, or the complete records not yet taken
  // hold max_record bytes (take them with next() and call fill() again;
  // the descriptor stays readable). However small the records, the
  // reader holds at most 2 * max_record + 8 bytes of records and their
  // lengths (the records' bytes in one buffer of at most max_record, the
  // lengths in 512-byte blocks) and a read buffer of 64 KiB or
  // max_record, whichever is smaller. Returns {} while the
  // stream is open, else its final status (as RecordAssembler::next
  // describes it; a read error is reported as its errno value). Records
  // completed before the end are still handed out by next().
  XDR_GLUE_EXPORT std::error_code fill();

  // Moves the next complete record into `record`; results as
  // RecordAssembler::next: {}, EAGAIN, or the final status.
  XDR_GLUE_EXPORT std::error_code next(std::vector<char>& record);

  // Takes the next complete record and decodes it into `object`, which
  // should start zeroed. Returns {}, EAGAIN (no whole record yet), EBADMSG
  // (the record did not decode: it is consumed, `object` is already freed,
  // and the next record may still be good), or the final status. After {}
  // the caller owns what `decode` allocated: release it with xdr_free.
  XDR_GLUE_EXPORT std::error_code decode(xdrproc_t decode, void* object);

  const RecordAssembler& assembler() const noexcept { return assembler_; }
  int fd() const noexcept { return fd_; }

private:
  struct ReadResult {
    std::size_t bytes = 0;
    int error = 0; // 0 with 0 bytes: end of file
  };
  ReadResult read_some(std::size_t length);

  int fd_;
  bool is_socket_;
  RecordAssembler assembler_;
  std::vector<char> buffer_;
};

} // namespace xdr_glue

#endif // XDR_GLUE_RECORD_READER_HPP
