/* fuzz_json_scan.c: the CLI's scanner of check answers (src/cli/json_scan.c)
 * must judge every text as the library's strict reader does
 * (json_scan_oracle.h says where they may differ). */
#include <stdio.h>

#include "fuzz_check.h"
#include "json_scan_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char detail[400];
    int valid;
    if (json_scan_oracle((const char *)data, size, &valid, detail, sizeof(detail)) == 0) {
        fuzz_broken("cli_json_scan disagrees with the strict reader", detail);
    }
    return 0;
}
