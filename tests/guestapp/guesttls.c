/*
 * guesttls.c - an application that speaks TLS itself, for the busybox
 * guest of the app-proxy tests (static, OpenSSL linked in): it listens on
 * PORT with a self-signed certificate made at start (P-256, CN localhost)
 * and carries each connection's plaintext to 127.0.0.1:TARGET (guestapp),
 * so every guestapp route (HTTP/1.1, POST /echo, WebSocket) is reached over
 * TLS. Usage: guesttls [-d] [-l|-n] PORT TARGET (-d: background once
 * listening; a client that does not speak TLS is closed at once, or with
 * -l read until it has been quiet for 500 ms first, as servers with a
 * lingering close do, or with -n answered nginx's cleartext 400). One
 * process per connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/guestapp/writeall.h"

static int linger, nginx;
static const char refusal[] =
	"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\n"
	"Connection: close\r\n\r\n<html><head><title>400 The plain HTTP request was sent to "
	"HTTPS port</title></head><body><center><h1>400 Bad Request</h1></center><center>The "
	"plain HTTP request was sent to HTTPS port</center></body></html>\r\n";

static SSL_CTX *make_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	if (!ctx || !key || !x)
		return NULL;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
				   -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	if (!X509_sign(x, key, EVP_sha256()) || SSL_CTX_use_certificate(ctx, x) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, key) != 1)
		return NULL;
	return ctx;
}

/* One client: TLS on c, plaintext to the target. */
static void serve(SSL_CTX *ctx, int c, int target)
{
	unsigned char b[16384];
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, c);
	if (SSL_accept(ssl) != 1) { /* a cleartext request, say */
		struct pollfd p = { c, POLLIN, 0 };
		while (linger && poll(&p, 1, 500) > 0 && read(c, b, sizeof b) > 0)
			;
		if (nginx)
			write_all(c, refusal, sizeof refusal - 1);
		_exit(1);
	}
	int t = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)target),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (t < 0 || connect(t, (struct sockaddr *)&a, sizeof a) < 0)
		_exit(1);
	int client_open = 1;
	for (;;) {
		struct pollfd p[2] = { { c, POLLIN, 0 }, { t, POLLIN, 0 } };
		/* Records already decrypted need no poll. */
		if (!(client_open && SSL_pending(ssl)) && poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (client_open && (SSL_pending(ssl) || (p[0].revents & (POLLIN | POLLHUP)))) {
			int k = SSL_read(ssl, b, sizeof b);
			if (k > 0) {
				if (write_all(t, b, (size_t)k) < 0)
					break;
			} else if (SSL_get_error(ssl, k) != SSL_ERROR_WANT_READ) {
				client_open = 0;
				shutdown(t, SHUT_WR);
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			ssize_t k = read(t, b, sizeof b);
			if (k <= 0) {
				SSL_shutdown(ssl); /* close_notify: the response ended */
				break;
			}
			if (SSL_write(ssl, b, (int)k) != (int)k)
				break;
		}
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	int daemonize = 0, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		daemonize |= !strcmp(argv[i], "-d");
		linger |= !strcmp(argv[i], "-l");
		nginx |= !strcmp(argv[i], "-n");
	}
	if (argc != i + 2) {
		fprintf(stderr, "usage: guesttls [-d] [-l|-n] PORT TARGET\n");
		return 2;
	}
	int port = atoi(argv[i]), target = atoi(argv[i + 1]);
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = make_ctx();
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (!ctx || s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
		fprintf(stderr, "guesttls: cannot listen on %d\n", port);
		return 1;
	}
	if (daemonize && fork() > 0)
		return 0;
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		if (fork() == 0) {
			close(s);
			serve(ctx, c, target);
		}
		close(c);
	}
}
