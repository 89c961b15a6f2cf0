/* SPDX-License-Identifier: MIT */
/* memo_client.c - a C11 program using only the 1991 memo's functions.
 *
 * Built as C, in-tree and again from the installed qio.h and qio.pc (see
 * check_installed.sh). Exits 0 only if every step behaves as documented. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <qio/qio.h>

static int failures;
static int write_asts, read_asts, seek_asts;
static char read_back[16];

#define CHECK(condition)                                                   \
  do {                                                                     \
    if (!(condition)) {                                                    \
      fprintf(stderr, "memo_client: check failed at line %d: %s\n",        \
              __LINE__, #condition);                                       \
      failures++;                                                          \
    }                                                                      \
  } while (0)

static void count_ast(int error_code, int channel, int operation, char *buffer, int length,
                      void *ast_arg) {
  (void)channel, (void)buffer, (void)ast_arg;
  CHECK(error_code == 0);
  if (operation == QIO_WRITE) write_asts++;
  if (operation == QIO_READ) { read_asts++; CHECK(length == 5); }
  if (operation == QIO_SEEK) seek_asts++;
}

int main(void) {
  int sockets[2];
  char message[32], received[64 * 40];
  int i, total = 0;
  FILE *scratch;

  CHECK(qio_init() == 0);
  CHECK(qio_pend() == 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sockets) == 0);
  CHECK(qio_configure(sockets[0], 1, 1, -1) == 0);
  CHECK(qio_configure(-1, 1, 1, -1) == EBADF);
  CHECK(qio_write(sockets[1], "x", 1, NULL, NULL) == EBADF);

  for (i = 0; i < 40; i++) {
    snprintf(message, sizeof message, "record %02d\n", i);
    CHECK(qio_write(sockets[0], message, (int)strlen(message), count_ast, NULL) == 0);
  }
  CHECK(qio_pend() == 40 && qio_pendc(sockets[0]) == 40);
  while (qio_pend() > 0)
    qio_flush();
  CHECK(write_asts == 40);
  while (total < 40 * 10) {
    ssize_t n = read(sockets[1], received + total, sizeof received - (size_t)total);
    if (n <= 0) break;
    total += (int)n;
  }
  CHECK(total == 400 && memcmp(received, "record 00\nrecord 01\n", 20) == 0);

  /* A regular file: write, seek back, read, in queue order. */
  scratch = tmpfile();
  CHECK(scratch != NULL);
  if (scratch) {
    int fd = fileno(scratch);
    CHECK(qio_configure(fd, 0, 0, 8) == 0);
    CHECK(qio_write(fd, "hello world", 11, count_ast, NULL) == 0);
    CHECK(qio_seek(fd, 6, count_ast, NULL) == 0);
    CHECK(qio_read(fd, read_back, 5, count_ast, NULL) == 0);
    while (qio_pendc(fd) > 0)
      CHECK(qio_flushc(fd) == 0);
    CHECK(seek_asts == 1 && read_asts == 1 && memcmp(read_back, "world", 5) == 0);
    CHECK(qio_termc(fd) == 0);
    fclose(scratch);
  }

  qio_util_debug = 1;
  CHECK(qio_write(sockets[0], "dbg", 3, qio_ast, NULL) == 0);
  CHECK(qio_dump(stderr) == 0);
  qio_flush();
  CHECK(qio_init() == 0 && qio_util_debug == 0);
  CHECK(qio_write(sockets[0], "x", 1, NULL, NULL) == EBADF);
  CHECK(qio_term() == 0);
  close(sockets[0]);
  close(sockets[1]);
  printf("memo_client: %s\n", failures ? "FAILED" : "OK");
  return failures ? 1 : 0;
}
