/* SPDX-License-Identifier: MIT */
/* tirpc_peer_server.c - a stock libtirpc server for the asynchronous
 * client's tests: rpcgen's dispatch function for client_peer.x, registered
 * with svc_create and served by svc_run, as any rpcgen program is.
 *
 *   tirpc_peer_server PROGRAM [hold]
 *
 * Registers PEER_V1 of PROGRAM (decimal) over TCP with rpcbind, prints
 * "port N" on stdout and serves. With "hold" it reads nothing from its
 * clients until a byte arrives on stdin: the server that stops reading.
 * It unregisters and exits when stdin ends, so the test that started it
 * stops it by closing the pipe, and it never outlives its test. */
#define _DEFAULT_SOURCE /* strdup */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client_peer.h"

/* rpcgen -m's dispatch function, which its header does not declare. */
void peer_program_1(struct svc_req *request, SVCXPRT *transport);

static rpcprog_t served_program;

/* ---- the procedures --------------------------------------------------- */

static stop *reversed_route(const stop *route)
{
	stop *reversed = NULL;
	for (; route != NULL; route = route->next) {
		stop *copy = calloc(1, sizeof *copy);
		if (copy == NULL)
			abort();
		copy->name = strdup(route->name);
		copy->next = reversed;
		reversed = copy;
	}
	return reversed;
}

static char *reversed_text(const char *text)
{
	size_t length = strlen(text);
	char *copy = malloc(length + 1);
	if (copy == NULL)
		abort();
	for (size_t i = 0; i < length; ++i)
		copy[i] = text[length - 1 - i];
	copy[length] = '\0';
	return copy;
}

static void copy_bytes(const char *from, u_int length, char **to, u_int *to_length)
{
	*to = malloc(length + 1);
	if (*to == NULL)
		abort();
	if (length > 0) /* an empty opaque decodes to NULL */
		memcpy(*to, from, length);
	*to_length = length;
}

/* Classic rpcgen procedures: each result lives in a static object, and
 * what the previous call allocated in it is released first. */

journey *reverse_journey_1_svc(journey *in, struct svc_req *request)
{
	static journey out;
	(void)request;
	xdr_free((xdrproc_t)xdr_journey, (caddr_t)&out);
	out.id = in->id + 1;
	out.title = reversed_text(in->title);
	out.values.values_len = in->values.values_len;
	out.values.values_val = calloc(in->values.values_len + 1, sizeof(int));
	if (out.values.values_val == NULL)
		abort();
	for (u_int i = 0; i < in->values.values_len; ++i)
		out.values.values_val[i] = -in->values.values_val[i];
	out.latest = in->latest;
	if (in->latest.kind == READING_TEXT)
		out.latest.reading_u.text = strdup(in->latest.reading_u.text);
	out.route = reversed_route(in->route);
	copy_bytes(in->payload.payload_val, in->payload.payload_len, &out.payload.payload_val,
		   &out.payload.payload_len);
	out.flagged = !in->flagged;
	return &out;
}

octets *echo_octets_1_svc(octets *in, struct svc_req *request)
{
	static octets out;
	(void)request;
	xdr_free((xdrproc_t)xdr_octets, (caddr_t)&out);
	copy_bytes(in->octets_val, in->octets_len, &out.octets_val, &out.octets_len);
	return &out;
}

u_int *count_octets_1_svc(octets *in, struct svc_req *request)
{
	static u_int out;
	(void)request;
	out = in->octets_len;
	return &out;
}

u_int *triple_plus_one_1_svc(u_int *in, struct svc_req *request)
{
	static u_int out;
	(void)request;
	out = 3 * *in + 1;
	return &out;
}

/* NULL: rpcgen's dispatcher then sends nothing, the error reply is ours. */
void *fail_system_1_svc(void *in, struct svc_req *request)
{
	(void)in;
	svcerr_systemerr(request->rq_xprt);
	return NULL;
}

void *refuse_auth_1_svc(void *in, struct svc_req *request)
{
	(void)in;
	svcerr_auth(request->rq_xprt, AUTH_TOOWEAK);
	return NULL;
}

/* ---- serving ------------------------------------------------------------ */

static void leave(int status)
{
	svc_unreg(served_program, PEER_V1);
	_exit(status);
}

/* Waits for stdin to end, then leaves. */
static void *watch_stdin(void *unused)
{
	char byte;
	(void)unused;
	while (read(STDIN_FILENO, &byte, 1) > 0)
		continue;
	leave(0);
	return NULL;
}

/* The port of the listener svc_create made: the one descriptor libtirpc
 * watches. */
static int served_port(void)
{
	for (int fd = 0; fd < FD_SETSIZE; ++fd) {
		struct sockaddr_in address;
		socklen_t length = sizeof address;
		if (FD_ISSET(fd, &svc_fdset) &&
		    getsockname(fd, (struct sockaddr *)&address, &length) == 0 &&
		    address.sin_family == AF_INET)
			return ntohs(address.sin_port);
	}
	return -1;
}

int main(int argc, char **argv)
{
	pthread_t watcher;
	char go;
	int port;

	if (argc < 2) {
		fprintf(stderr, "usage: tirpc_peer_server PROGRAM [hold]\n");
		return 2;
	}
	served_program = (rpcprog_t)strtoul(argv[1], NULL, 10);
	rpcb_unset(served_program, PEER_V1, NULL); /* a registration left by a killed run */
	if (svc_create(peer_program_1, served_program, PEER_V1, "tcp") == 0) {
		fprintf(stderr, "tirpc_peer_server: svc_create failed (is rpcbind running?)\n");
		return 1;
	}
	port = served_port();
	if (port < 0) {
		fprintf(stderr, "tirpc_peer_server: no listener\n");
		leave(1);
	}
	printf("port %d\n", port);
	fflush(stdout);
	if (argc > 2 && strcmp(argv[2], "hold") == 0 && read(STDIN_FILENO, &go, 1) != 1)
		leave(0);
	if (pthread_create(&watcher, NULL, watch_stdin, NULL) != 0)
		leave(1);
	svc_run();
	leave(1);
	return 1;
}
