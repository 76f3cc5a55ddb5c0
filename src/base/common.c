/* common.c: status strings and version. */
#include "dynhc/common.h"

#include <errno.h>

#include "status.h"

const char *dynhc_strerror(int status)
{
    switch (status) {
    case DYNHC_OK: return "success";
    case DYNHC_DISABLED: return "health-check payloads are disabled";
    case DYNHC_ERR_NOMEM: return "out of memory";
    case DYNHC_ERR_INVALID_ARG: return "invalid argument";
    case DYNHC_ERR_UNKNOWN_MODEL_TYPE: return "unknown model type";
    case DYNHC_ERR_UNKNOWN_LEVEL: return "unknown health-check level";
    case DYNHC_ERR_CONFIG: return "config file cannot be read or parsed";
    case DYNHC_ERR_STRICT: return "strict mode: a warning was raised";
    case DYNHC_ERR_JSON: return "invalid JSON";
    case DYNHC_ERR_BUSY: return "not allowed now";
    case DYNHC_ERR_NOT_FOUND: return "not found";
    case DYNHC_ERR_UNSUPPORTED: return "not built in";
    case DYNHC_ERR_SYSTEM: return "system call failed";
    default: return "unknown status";
    }
}

const char *dynhc_version(void)
{
    return DYNHC_VERSION_STRING;
}

unsigned dynhc_version_number(void)
{
    return DYNHC_VERSION_NUMBER;
}

int dynhcp_system_error(int error, int *sys_errno)
{
    if (sys_errno != NULL) {
        *sys_errno = error;
    }
    errno = error;
    return DYNHC_ERR_SYSTEM;
}
