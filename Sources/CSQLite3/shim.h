#ifndef TSEE_CSQLITE3_SHIM_H
#define TSEE_CSQLITE3_SHIM_H

#include <sqlite3.h>

/* SQLITE_TRANSIENT is a cast macro Swift cannot import. */
static inline sqlite3_destructor_type tsee_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/* sqlite3_db_config is variadic; Swift cannot call it directly. */
static inline int tsee_sqlite_db_config_int(sqlite3 *db, int op, int value, int *out) {
    return sqlite3_db_config(db, op, value, out);
}

#endif
