/* status.h: status codes made inside the library. Internal. */
#ifndef DYNHCP_STATUS_H
#define DYNHCP_STATUS_H

/* DYNHC_ERR_SYSTEM, with the error number in *sys_errno (when given) and in
 * errno. */
int dynhcp_system_error(int error, int *sys_errno);

#endif
