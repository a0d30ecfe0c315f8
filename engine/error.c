#include "error.h"

#include <stdarg.h>
#include <stdio.h>

pd_status pd_fail(pd_error *err, pd_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void pd_error_clear(pd_error *err)
{
    if (err) {
        err->status = PD_OK;
        err->message[0] = '\0';
    }
}

const char *pd_status_name(pd_status status)
{
    switch (status) {
    case PD_OK: return "ok";
    case PD_E_ARG: return "invalid argument";
    case PD_E_IO: return "i/o error";
    case PD_E_FORMAT: return "format error";
    case PD_E_MODEL: return "model error";
    case PD_E_UNSUPPORTED: return "unsupported";
    case PD_E_NOMEM: return "out of memory";
    case PD_E_CANCELLED: return "cancelled";
    }
    return "unknown status";
}
