/* dynhc version: the single place it is written. CMake reads these lines. */
#ifndef DYNHC_VERSION_H
#define DYNHC_VERSION_H

#define DYNHC_VERSION_MAJOR 0
#define DYNHC_VERSION_MINOR 1
#define DYNHC_VERSION_PATCH 0

#define DYNHC_VERSION_STRINGIFY_(x) #x
#define DYNHC_VERSION_STRINGIFY(x) DYNHC_VERSION_STRINGIFY_(x)
/* "MAJOR.MINOR.PATCH" */
#define DYNHC_VERSION_STRING                                                   \
    DYNHC_VERSION_STRINGIFY(DYNHC_VERSION_MAJOR)                               \
    "." DYNHC_VERSION_STRINGIFY(DYNHC_VERSION_MINOR) "." DYNHC_VERSION_STRINGIFY( \
        DYNHC_VERSION_PATCH)
/* MAJOR * 10000 + MINOR * 100 + PATCH, comparable with < and >. */
#define DYNHC_VERSION_NUMBER                                                   \
    (DYNHC_VERSION_MAJOR * 10000 + DYNHC_VERSION_MINOR * 100 + DYNHC_VERSION_PATCH)

#endif
