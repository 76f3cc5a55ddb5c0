/* dynhc/dynhc.h: the umbrella header; include this one. */
#ifndef DYNHC_H
#define DYNHC_H

#include "common.h"
#include "resolver.h"
#include "compat.h"
#include "sched.h"
#include "server.h"

#endif
