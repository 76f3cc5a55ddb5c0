/* payload_check.c: placeholder until the module lands. */
#include "text.h"
