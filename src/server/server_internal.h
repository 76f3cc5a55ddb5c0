/* server_internal.h: what tests may set and read in the status server beyond
 * its public API. Internal. */
#ifndef DYNHCP_SERVER_INTERNAL_H
#define DYNHCP_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dynhc/server.h"

/* How long a connection may take to deliver a request and receive its
 * answer, counted from when it opened or from its previous answer; default
 * DYNHCP_SERVER_REQUEST_DEADLINE_MS. Before dynhc_server_start(): DYNHC_ERR_BUSY
 * while running, DYNHC_ERR_INVALID_ARG for 0. Tests shorten it. */
#define DYNHCP_SERVER_REQUEST_DEADLINE_MS 10000u
int dynhcp_server_set_request_deadline_ms(dynhc_server *srv, uint64_t ms);

/* The most connections the running server holds at once; 0 when stopped. */
size_t dynhcp_server_connection_limit(const dynhc_server *srv);

/* Connections open now and not yet cut by the server. Any thread. */
size_t dynhcp_server_open_connections(dynhc_server *srv);

#endif
