/* core_headers.c: every core header compiles on its own and together, with
 * cJSON's headers out of reach (check.sh puts a cjson/cJSON.h that fails
 * first on the include path): dynhc's core interface does not depend on
 * cJSON's (docs/abi.md). Also compiled as C++ when a C++ compiler is there. */
#include <dynhc/common.h>
#include <dynhc/version.h>
#include <dynhc/resolver.h>
#include <dynhc/compat.h>
#include <dynhc/sched.h>
#include <dynhc/server.h>
#include <dynhc/dynhc.h>

#ifdef DYNHC_CJSON_H
#error "dynhc/dynhc.h includes the optional dynhc/cjson.h"
#endif

/* The send callback's view needs no cJSON either. */
static int send_check(dynhc_sched *s, dynhc_endpoint *ep, const dynhc_check *check,
                      void *user_data)
{
    (void)s;
    (void)ep;
    (void)user_data;
    return check->payload_text != NULL && check->result != NULL ? 0 : -1;
}

/* The initialisers of the structs that can grow, quiet under -Wextra. */
int core_headers_link_check(void);
int core_headers_link_check(void)
{
    dynhc_config config = DYNHC_CONFIG_INIT;
    dynhc_endpoint_options options = DYNHC_ENDPOINT_OPTIONS_INIT;
    options.send = send_check;
    return config.size == sizeof(config) && options.size == sizeof(options) &&
           dynhc_version_number() == DYNHC_VERSION_NUMBER;
}
