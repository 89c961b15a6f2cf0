/* SPDX-License-Identifier: MIT */
/* c_round_trip.c - the C API from a C program: records queued with
 * xdr_qio_create, read back with an xdr_qio_reader, and an empty prune.
 * Exits 0 when every expectation holds. */
#define _DEFAULT_SOURCE /* u_int and the BSD types libtirpc uses, under -std=c11 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qio/qio.h>
#include <xdr_glue/xdr_qio.h>

static int failures = 0;

#define EXPECT(condition)                                                     \
  do {                                                                        \
    if (!(condition)) {                                                       \
      fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #condition); \
      ++failures;                                                             \
    }                                                                         \
  } while (0)

struct entry {
  u_int number;
  char *text;
};

static bool_t xdr_entry(XDR *xdrs, struct entry *entry) {
  return xdr_u_int(xdrs, &entry->number) && xdr_string(xdrs, &entry->text, 64);
}

static void write_entries(int channel, u_int count) {
  XDR out;
  u_int number;
  EXPECT(xdr_qio_create(&out, channel, 0, 0) == 0);
  for (number = 0; number < count; ++number) {
    char text[32];
    struct entry entry;
    snprintf(text, sizeof text, "entry %u", number);
    entry.number = number;
    entry.text = text;
    EXPECT(xdr_entry(&out, &entry) && xdrrec_endofrecord(&out, TRUE));
  }
  xdr_destroy(&out);
}

static void read_entries(xdr_qio_reader *reader, u_int count) {
  u_int number;
  for (number = 0; number < count; ++number) {
    char text[32];
    struct entry entry;
    memset(&entry, 0, sizeof entry);
    snprintf(text, sizeof text, "entry %u", number);
    EXPECT(xdr_qio_reader_next(reader, (xdrproc_t)xdr_entry, &entry) == 0);
    EXPECT(entry.number == number);
    EXPECT(entry.text != NULL && strcmp(entry.text, text) == 0);
    xdr_free((xdrproc_t)xdr_entry, (char *)&entry);
  }
}

int main(void) {
  int pair[2];
  unsigned dropped = 99;
  struct entry none;
  xdr_qio_reader *reader;
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
    return 2;
  EXPECT(qio_configure(pair[0], 1, 1, -1) == 0);
  write_entries(pair[0], 3);
  EXPECT(qio_wait(pair[0], 5000) == 0);
  EXPECT(xdr_qio_prune(pair[0], &dropped) == 0 && dropped == 0);

  reader = xdr_qio_reader_create(pair[1], 0);
  EXPECT(reader != NULL);
  if (reader == NULL)
    return 1;
  EXPECT(xdr_qio_reader_fill(reader) == 0);
  read_entries(reader, 3);
  memset(&none, 0, sizeof none);
  EXPECT(xdr_qio_reader_next(reader, (xdrproc_t)xdr_entry, &none) == XDR_QIO_AGAIN);
  EXPECT(qio_termc(pair[0]) == 0);
  close(pair[0]);
  EXPECT(xdr_qio_reader_fill(reader) == XDR_QIO_END);
  EXPECT(xdr_qio_reader_next(reader, (xdrproc_t)xdr_entry, &none) == XDR_QIO_END);
  xdr_qio_reader_destroy(reader);
  close(pair[1]);
  printf("xdr_glue C round trip: %d failure(s)\n", failures);
  return failures != 0;
}
