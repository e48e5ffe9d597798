/* table.h - aligned text tables for the client's human output. */
#ifndef HEARTH_TABLE_H
#define HEARTH_TABLE_H

#include <stdio.h>

#define TABLE_MAX_COLS 8

struct table {
	int ncols;
	size_t nrows, cap;
	char **cells;  /* nrows * ncols strings, row-major, owned */
	int header;    /* first row is a header */
};

void table_init(struct table *t, int ncols, int header);
/* Append a row of t->ncols strings (copied; NULL prints "-"). 0 or -1 on no memory. */
int table_row(struct table *t, const char *const *cells);
/* Print with columns padded to their widest cell, two spaces apart. */
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

#endif
