/* Status code names. */
#include "frugal/status.h"

const char *fg_status_str(fg_status st)
{
    switch (st) {
    case FG_OK:
        return "FG_OK";
    case FG_ERR_NOMEM:
        return "FG_ERR_NOMEM";
    case FG_ERR_IO:
        return "FG_ERR_IO";
    case FG_ERR_FORMAT:
        return "FG_ERR_FORMAT";
    case FG_ERR_INVALID_ARG:
        return "FG_ERR_INVALID_ARG";
    case FG_ERR_UNSUPPORTED:
        return "FG_ERR_UNSUPPORTED";
    case FG_ERR_NUMERIC:
        return "FG_ERR_NUMERIC";
    case FG_ERR_DIST:
        return "FG_ERR_DIST";
    case FG_ERR_INTERNAL:
        return "FG_ERR_INTERNAL";
    }
    return "FG_ERR_UNKNOWN";
}
