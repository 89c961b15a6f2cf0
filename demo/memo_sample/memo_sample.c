/* qio-memo-sample: the 1991 memo's first example, made runnable.
 *
 * A child process listens on a loopback TCP port and counts what arrives;
 * the parent connects, configures the connection as a buffered,
 * non-blocking qio channel, queues 100 numbered messages without waiting
 * for any of them, then flushes until qio_pend() reports nothing left.
 * Written in C against qio.h alone, as a 1991 program would be. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv) {
  if (argc > 1) {
    int help = strcmp(argv[1], "--help") == 0;
    fprintf(help ? stdout : stderr,
            "usage: qio-memo-sample\n"
            "Queues %d messages on a loopback TCP connection with qio_write and\n"
            "flushes until qio_pend() is 0; a child process checks what arrives.\n",
            MESSAGE_COUNT);
    return help ? 0 : 2;
  }
  struct sockaddr_in address;
  int listener = open_listener(&address);
  pid_t peer = fork();
  if (peer == 0)
    _exit(run_peer(listener));
  close(listener);

  int connection = socket(AF_INET, SOCK_STREAM, 0);
  if (connection < 0 || connect(connection, (struct sockaddr *)&address, sizeof address) < 0) {
    perror("qio-memo-sample: connect");
    return 1;
  }
  int error = qio_configure(connection, 1, 1, -1);
  if (error != 0) {
    fprintf(stderr, "qio_configure: %s\n", strerror(error));
    return 1;
  }
  char message[64];
  for (int i = 0; i < MESSAGE_COUNT; i++) {
    format_message(message, sizeof message, i);
    error = qio_write(connection, message, (int)strlen(message), count_completion, NULL);
    if (error != 0) {
      fprintf(stderr, "qio_write: %s\n", strerror(error));
      return 1;
    }
  }
  int queued = qio_pend();
  while (qio_pend() > 0)
    qio_flush();
  printf("sender: queued %d messages at once, %d completed through their ASTs\n", queued,
         completed_writes);
  qio_termc(connection);
  close(connection);

  int status = 0;
  waitpid(peer, &status, 0);
  int ok = completed_writes == MESSAGE_COUNT && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  printf("%s\n", ok ? "memo sample: OK" : "memo sample: FAILED");
  return ok ? 0 : 1;
}
