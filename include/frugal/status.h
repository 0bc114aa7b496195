/* frugal: status codes shared by every subsystem.
 *
 * Every fallible function returns an fg_status. FG_OK is zero; errors are negative so that
 * `if (st)` and `if (st < 0)` both work. Details never go to a global: each context keeps an
 * errmsg buffer that its own _errmsg() accessor returns.
 */
#ifndef FRUGAL_STATUS_H
#define FRUGAL_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#    define FG_API __attribute__((visibility("default")))
#else
#    define FG_API
#endif

typedef enum fg_status {
    FG_OK = 0,
    FG_ERR_NOMEM = -1,       /* an allocation failed */
    FG_ERR_IO = -2,          /* the OS refused a read, write, rename, fsync ... */
    FG_ERR_FORMAT = -3,      /* bytes from outside are malformed (bad magic, CRC, truncation) */
    FG_ERR_INVALID_ARG = -4, /* a caller-supplied value is out of range or inconsistent */
    FG_ERR_UNSUPPORTED = -5, /* valid request this build or machine cannot do */
    FG_ERR_NUMERIC = -6,     /* NaN or Inf detected */
    FG_ERR_DIST = -7,        /* a distributed-communication failure */
    FG_ERR_INTERNAL = -8     /* a broken invariant: a bug in frugal */
} fg_status;

/* Short constant name of a status ("FG_ERR_IO"). Never NULL; thread-safe. */
FG_API const char *fg_status_str(fg_status st);

/* Propagate a failure: the one error macro. Use inside functions with a `fail:` label free. */
#define FG_TRY(expr)                   \
    do {                               \
        fg_status fg_try_st_ = (expr); \
        if (fg_try_st_ != FG_OK)       \
            return fg_try_st_;         \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
