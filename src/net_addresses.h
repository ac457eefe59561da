/*-------------------------------------------------------------------------
 *
 * net_addresses.h
 *	  This machine's own network addresses, read in process: what
 *	  prepare_primary() recommends for listen_addresses and what a server
 *	  certificate names by default.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_NET_ADDRESSES_H
#define PGREPL_NET_ADDRESSES_H

#include "nodes/pg_list.h"

extern List *net_interface_addresses(bool with_loopback);
extern List *net_resolve(const char *host);
extern bool net_list_has(List *addresses, const char *address);
extern bool net_is_loopback(const char *address);
extern bool net_is_wildcard(const char *address);

#endif							/* PGREPL_NET_ADDRESSES_H */
