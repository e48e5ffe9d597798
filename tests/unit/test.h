/*
 * test.h - a tiny unit-test harness. Each test file defines TEST(name)
 * functions and lists them in a TEST_MAIN(...) table. A failed CHECK marks
 * the current test failed and returns from it. The binary prints one line
 * per failure and ends with "unit <file>: N passed, N failed".
 */
#ifndef HEARTH_TEST_H
#define HEARTH_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failed_;

#define TEST(name) static void name(void)
#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__,  \
				#cond);                                                      \
			test_failed_ = 1;                                                    \
			return;                                                              \
		}                                                                            \
	} while (0)
#define CHECK_EQ(a, b) CHECK((a) == (b))
#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)
#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

struct test_case {
	const char *name;
	void (*fn)(void);
};
#define T(fn) { #fn, fn }

#define TEST_MAIN(...)                                                                       \
	int main(void)                                                                       \
	{                                                                                    \
		static const struct test_case cases[] = { __VA_ARGS__ };                     \
		int passed = 0, failed = 0;                                                  \
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {              \
			test_failed_ = 0;                                                    \
			cases[i].fn();                                                       \
			if (test_failed_) {                                                  \
				fprintf(stderr, "FAIL %s\n", cases[i].name);                 \
				failed++;                                                    \
			} else {                                                             \
				passed++;                                                    \
			}                                                                    \
		}                                                                            \
		printf("unit %s: %d passed, %d failed\n", __FILE__, passed, failed);          \
		return failed ? 1 : 0;                                                       \
	}

#endif
