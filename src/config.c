/* config.c: placeholder until the module lands. */
#include "text.h"
