/* test_sshw.c - hearthd <-> SSH worker frames and logins (protocol/sshw.c) */
#include "protocol/sshw.h"
#include "test.h"

static int take_decode(struct buf *b, int from, struct sshw_msg *m)
{
	struct sshw_frame f;
	long k = sshw_take(buf_ptr(b), buf_used(b), &f);
	if (k <= 0)
		return k == 0 ? 99 : (int)k;
	int rc = sshw_decode(&f, from, m);
	buf_consume(b, (size_t)k);
	return rc;
}

TEST(roundtrip)
{
	struct buf b;
	struct sshw_msg m, o;
	buf_init(&b, 1 << 20);
	CHECK_EQ(sshw_put_auth(&b, "mvm-1#tok", 9, "", 0), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_OK);
	CHECK(m.type == SSHW_AUTH && m.user.len == 9 && !memcmp(m.user.p, "mvm-1#tok", 9) &&
	      m.pass.len == 0);
	memset(&o, 0, sizeof o);
	o.kind = SSHW_KIND_SHELL;
	o.window = 4096;
	o.rows = 40;
	o.cols = 120;
	o.term = (struct sshw_str){ "xterm", 5 };
	o.nenv = 1;
	o.env[0] = (struct sshw_str){ "LANG=C.UTF-8", 12 };
	CHECK_EQ(sshw_put_open(&b, 3, &o), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_OK);
	CHECK(m.type == SSHW_OPEN && m.chan == 3 && m.kind == SSHW_KIND_SHELL && m.rows == 40 &&
	      m.cols == 120 && m.nenv == 1 && m.term.len == 5 && m.window == 4096);
	CHECK_EQ(sshw_put_data(&b, 3, 2, "err", 3), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_HEARTHD, &m), SSHW_OK);
	CHECK(m.type == SSHW_DATA && m.stream == 2 && m.len == 3 && !memcmp(m.data, "err", 3));
	CHECK_EQ(sshw_put_exit(&b, 3, SSHW_EXIT_CODE, 7), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_HEARTHD, &m), SSHW_OK);
	CHECK(m.type == SSHW_EXIT && m.how == SSHW_EXIT_CODE && m.value == 7);
	CHECK_EQ(sshw_put_resize(&b, 3, 50, 132), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_OK);
	CHECK(m.rows == 50 && m.cols == 132);
	CHECK_EQ(sshw_put_fail(&b, 4, "no such port"), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_HEARTHD, &m), SSHW_OK);
	CHECK(m.type == SSHW_OPEN_FAIL && m.msg.len == 12);
	CHECK_EQ(buf_used(&b), 0);
	buf_free(&b);
}

TEST(direction_and_channel_rules)
{
	struct buf b;
	struct sshw_msg m;
	buf_init(&b, 1 << 20);
	/* hearthd never sends AUTH, the worker never sends AUTH_OK or HOSTKEY. */
	CHECK_EQ(sshw_put_auth(&b, "u", 1, "p", 1), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_HEARTHD, &m), SSHW_E_TYPE);
	CHECK_EQ(sshw_put_empty(&b, SSHW_AUTH_OK, 0), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_TYPE);
	CHECK_EQ(sshw_put_hostkey(&b, "k", 1), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_TYPE);
	/* Channel messages need a channel; login messages channel 0. */
	CHECK_EQ(sshw_put_empty(&b, SSHW_CLOSE, 0), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_CHANNEL);
	CHECK_EQ(sshw_put_empty(&b, SSHW_AUTH_FAIL, 5), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_HEARTHD, &m), SSHW_E_CHANNEL);
	buf_free(&b);
}

TEST(refusals)
{
	struct sshw_frame f;
	struct sshw_msg m;
	uint8_t p[64] = { 1, SSHW_DATA, 0, 1, 0, 0, 0, 1, 0 };
	/* DATA without bytes, version 2, too long, unknown type. */
	CHECK(sshw_take(p, 9, &f) == 9 && sshw_decode(&f, SSHW_FROM_WORKER, &m) == SSHW_E_PAYLOAD);
	p[0] = 2;
	CHECK_EQ(sshw_take(p, 9, &f), SSHW_E_VERSION);
	p[0] = 1;
	p[4] = 1;
	CHECK_EQ(sshw_take(p, 9, &f), SSHW_E_TOOBIG);
	p[4] = 0;
	p[1] = 0x7f;
	CHECK_EQ(sshw_take(p, 9, &f), SSHW_E_TYPE);
	CHECK_EQ(sshw_take(p, 7, &f), 0); /* short header: wait */
	/* OPEN kinds: exec needs a command, tcp a port, a shell no command. */
	struct buf b;
	struct sshw_msg o;
	buf_init(&b, 1 << 16);
	memset(&o, 0, sizeof o);
	o.window = 1;
	o.kind = SSHW_KIND_EXEC;
	CHECK_EQ(sshw_put_open(&b, 1, &o), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_PAYLOAD);
	o.kind = SSHW_KIND_TCP;
	CHECK_EQ(sshw_put_open(&b, 1, &o), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_PAYLOAD);
	o.kind = SSHW_KIND_SHELL;
	o.command = (struct sshw_str){ "ls", 2 };
	CHECK_EQ(sshw_put_open(&b, 1, &o), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_PAYLOAD);
	o.kind = SSHW_KIND_EXEC;
	o.nenv = 1;
	o.env[0] = (struct sshw_str){ "=x", 2 }; /* no name */
	CHECK_EQ(sshw_put_open(&b, 1, &o), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_PAYLOAD);
	o.nenv = 0;
	o.window = SSHW_MAX_WINDOW + 1;
	CHECK_EQ(sshw_put_open(&b, 1, &o), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_PAYLOAD);
	/* A NUL inside a string. */
	o.window = 1;
	o.command = (struct sshw_str){ "l\0s", 3 };
	CHECK_EQ(sshw_put_open(&b, 1, &o), 0);
	CHECK_EQ(take_decode(&b, SSHW_FROM_WORKER, &m), SSHW_E_PAYLOAD);
	buf_free(&b);
}

TEST(logins)
{
	char id[65], tok[513];
	CHECK_EQ(sshw_split_login("mvm-ab#hth1.x.y", 15, "ignored", 7, id, sizeof id, tok,
				  sizeof tok), 0);
	CHECK_STR(id, "mvm-ab");
	CHECK_STR(tok, "hth1.x.y");
	CHECK_EQ(sshw_split_login("mvm-ab", 6, "hth1.p", 6, id, sizeof id, tok, sizeof tok), 0);
	CHECK_STR(tok, "hth1.p");
	CHECK(sshw_split_login("mvm-ab", 6, "", 0, id, sizeof id, tok, sizeof tok) < 0);
	CHECK(sshw_split_login("#tok", 4, "", 0, id, sizeof id, tok, sizeof tok) < 0);
	CHECK(sshw_split_login("mvm-ab#", 7, "pw", 2, id, sizeof id, tok, sizeof tok) < 0);
	CHECK(sshw_split_login("mvm/../x", 8, "pw", 2, id, sizeof id, tok, sizeof tok) < 0);
	CHECK(sshw_split_login("a", 1, "p\0w", 3, id, sizeof id, tok, sizeof tok) < 0);
	char longid[80];
	memset(longid, 'a', sizeof longid);
	CHECK(sshw_split_login(longid, sizeof longid, "pw", 2, id, sizeof id, tok, sizeof tok) < 0);
}

TEST_MAIN(T(roundtrip), T(direction_and_channel_rules), T(refusals), T(logins))
