/*
 * idmsg.h - identity requests and answers (PROTOCOL.md 1.11), pure encode and
 * decode. One message: u32 id | u8 status | u16 length | length bytes. The
 * same frames run on the identity channel (kind 6, agent <-> hearthd) and on
 * the guest's /run/hearth/identity.sock (hearth-identity <-> agent).
 * A request carries status 0 and the audience; an answer carries the
 * request's id, status IDMSG_OK and the JWT, or an error status and a
 * one-line reason.
 */
#ifndef HEARTH_IDMSG_H
#define HEARTH_IDMSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IDMSG_HDR 7
#define IDMSG_MAX_BODY 65535u /* the u16 length */
#define IDMSG_REQ_MAX 1024u   /* a request body the agent and hearthd read */
#define IDMSG_AUD_MAX 256u    /* a valid audience */

enum idmsg_status {
	IDMSG_OK = 0,          /* body: the token */
	IDMSG_E_AUDIENCE = 1,  /* the audience is not 1..256 printable ASCII without spaces */
	IDMSG_E_RATE = 2,      /* over the VM's rate */
	IDMSG_E_UNAVAIL = 3,   /* no token can be had now (no channel, no key, not running) */
	IDMSG_E_PROTO = 4,     /* a malformed request */
};

struct idmsg {
	uint32_t id;
	uint8_t status;
	uint16_t len;
	const uint8_t *body; /* into the reader's buffer: valid until the next feed */
};

/* Incremental reader over a caller's buffer of cap bytes (>= IDMSG_HDR). */
struct idmsg_reader {
	uint8_t *buf;
	size_t cap, have;
};

void idmsg_reader_init(struct idmsg_reader *r, uint8_t *buf, size_t cap);
/*
 * Consume input up to one whole message. *used: bytes taken from in.
 *  1   *m holds a message (the next call starts a new one)
 *  0   all input taken, no whole message yet
 * -1   a length past the buffer: the stream cannot be followed further
 */
int idmsg_feed(struct idmsg_reader *r, const uint8_t *in, size_t len, size_t *used,
	       struct idmsg *m);
/* Append one message; 0, or -1 (too long, or no room: nothing appended). */
int idmsg_put(struct buf *b, uint32_t id, uint8_t status, const void *p, size_t n);
/* 1 for an audience hearthd accepts: 1..IDMSG_AUD_MAX bytes of 0x21..0x7e. */
int idmsg_audience_ok(const void *p, size_t n);

#endif
