/* SPDX-License-Identifier: MIT */
/* qio-memo-sample: the 1991 memo's first example, made runnable.
 *
 * A child process listens on a loopback TCP port and counts what arrives;
 * the parent connects, configures the connection as a buffered,
 * non-blocking qio channel, queues 100 numbered messages without waiting
 * for any of them, then flushes until qio_pend() reports nothing left, and
 * prints a short summary table. Written in C against qio.h alone, as a
 * 1991 program would be. The child dies with the parent (PR_SET_PDEATHSIG)
 * and is killed and reaped on every failure path, so it never lingers. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qio/qio.h>

enum { MESSAGE_COUNT = 100 };

static int completed_writes;

static void count_completion(int error_code, int channel, int operation, char *buffer,
                             int length, void *ast_arg) {
  (void)channel, (void)operation, (void)buffer, (void)length, (void)ast_arg;
  if (error_code == 0)
    completed_writes++;
}

static void format_message(char *out, size_t size, int number) {
  snprintf(out, size, "telemetry frame %03d: all subsystems nominal\n", number);
}

/* The listening peer: reads everything and checks it is the expected text. */
static int run_peer(int listener) {
  int connection = accept(listener, NULL, NULL);
  if (connection < 0)
    return 2;
  static char expected[MESSAGE_COUNT * 64], received[sizeof expected];
  size_t expected_length = 0, received_length = 0;
  for (int i = 0; i < MESSAGE_COUNT; i++) {
    format_message(expected + expected_length, 64, i);
    expected_length += strlen(expected + expected_length);
  }
  ssize_t n;
  while (received_length < sizeof received &&
         (n = read(connection, received + received_length, sizeof received - received_length)) > 0)
    received_length += (size_t)n;
  close(connection);
  int intact = received_length == expected_length &&
               memcmp(received, expected, expected_length) == 0;
  printf("peer: received %zu bytes, %s\n", received_length,
         intact ? "all 100 messages intact and in order" : "MISMATCH");
  return intact ? 0 : 1;
}

static int open_listener(struct sockaddr_in *address) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  socklen_t length = sizeof *address;
  memset(address, 0, sizeof *address);
  address->sin_family = AF_INET;
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || bind(listener, (struct sockaddr *)address, sizeof *address) < 0 ||
      listen(listener, 1) < 0 || getsockname(listener, (struct sockaddr *)address, &length) < 0) {
    perror("qio-memo-sample: listener");
    exit(1);
  }
  return listener;
}

/* --help prints the usage and exits 0; anything else is refused in one
 * line with exit status 2, as the other programs do (C, this sample parses
 * its one option itself). */
static void check_arguments(int argc, char **argv) {
  if (argc < 2)
    return;
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    printf("usage: qio-memo-sample\n\n"
           "Queues %d messages on a loopback TCP connection with qio_write, without\n"
           "waiting, and flushes until qio_pend() is 0; a child process checks that\n"
           "every message arrived intact and in order. Exit status: 0 when they did,\n"
           "1 otherwise, 2 for bad arguments.\n\n"
           "options:\n  --help  show this help and exit\n",
           MESSAGE_COUNT);
    exit(0);
  }
  fprintf(stderr, "qio-memo-sample: unexpected argument '%s' (try --help)\n", argv[1]);
  exit(2);
}

/* The peer: dies with the parent, whatever happens to the parent. */
static pid_t start_peer(int listener) {
  pid_t parent = getpid();
  fflush(NULL);
  pid_t peer = fork();
  if (peer < 0) {
    perror("qio-memo-sample: fork");
    exit(1);
  }
  if (peer == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
      _exit(2);
    int result = run_peer(listener);
    fflush(stdout); /* _exit does not */
    _exit(result);
  }
  return peer;
}

/* The failure path: stop the peer and reap it before leaving. */
static int fail(const char *what, int error, pid_t peer) {
  fprintf(stderr, "qio-memo-sample: %s: %s\n", what, strerror(error));
  kill(peer, SIGKILL);
  waitpid(peer, NULL, 0);
  return 1;
}

int main(int argc, char **argv) {
  check_arguments(argc, argv);
  struct sockaddr_in address;
  int listener = open_listener(&address);
  pid_t peer = start_peer(listener);
  close(listener);

  int connection = socket(AF_INET, SOCK_STREAM, 0);
  if (connection < 0 || connect(connection, (struct sockaddr *)&address, sizeof address) < 0)
    return fail("connect", errno, peer);
  int error = qio_configure(connection, 1, 1, -1);
  if (error != 0)
    return fail("qio_configure", error, peer);
  char message[64];
  int queued_bytes = 0;
  for (int i = 0; i < MESSAGE_COUNT; i++) {
    format_message(message, sizeof message, i);
    error = qio_write(connection, message, (int)strlen(message), count_completion, NULL);
    if (error != 0)
      return fail("qio_write", error, peer);
    queued_bytes += (int)strlen(message);
  }
  int pending_after_queueing = qio_pend();
  int flush_calls = 0;
  while (qio_pend() > 0) {
    qio_flush();
    flush_calls++;
  }
  qio_termc(connection);
  close(connection);

  int status = 0;
  waitpid(peer, &status, 0);
  int peer_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  int ok = completed_writes == MESSAGE_COUNT && peer_ok;
  printf("\nsummary\n"
         "  %-38s %d (%d bytes)\n"
         "  %-38s %d\n"
         "  %-38s %d\n"
         "  %-38s %d\n"
         "  %-38s %s\n",
         "messages queued with qio_write", MESSAGE_COUNT, queued_bytes,
         "qio_pend() right after queueing", pending_after_queueing,
         "qio_flush() calls until qio_pend() = 0", flush_calls,
         "completion ASTs called", completed_writes,
         "peer's check", peer_ok ? "all intact, in order" : "FAILED");
  printf("\n%s\n", ok ? "memo sample: OK" : "memo sample: FAILED");
  return ok ? 0 : 1;
}
