/*
 * store_int.h - the store's database handle, for the store_*.c files only.
 */
#ifndef HEARTH_STORE_INT_H
#define HEARTH_STORE_INT_H

#include <sqlite3.h>

#include "session/store.h"

sqlite3 *store_sqlite(struct store *s);

#endif
