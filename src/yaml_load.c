/* yaml_load.c: placeholder until the module lands. */
#include "text.h"
