/* compat.c: placeholder until the module lands. */
#include "text.h"
