/*-------------------------------------------------------------------------
 *
 * net_addresses.c
 *	  This machine's own network addresses, read in process with
 *	  getifaddrs(3) (never by running a command), and the addresses a
 *	  listen_addresses entry stands for: what prepare_primary() recommends
 *	  for listen_addresses and what a server certificate names by default.
 *
 * An address a standby on another host can dial is one of an interface
 * that is up, and neither loopback (127.0.0.0/8, ::1) nor link-local
 * (169.254.0.0/16, fe80::/10: valid on one link only, and written with a
 * zone such as %eth0 that neither listen_addresses nor a certificate can
 * carry).  Addresses are returned as numeric text (inet_ntop), in the
 * order the kernel lists them, each once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "common/ip.h"

#include "net_addresses.h"

/* what kind of address a socket address is */
typedef enum NetKind
{
	NET_OTHER,					/* a unicast address other hosts can dial */
	NET_LOOPBACK,
	NET_LINK_LOCAL,
	NET_WILDCARD				/* 0.0.0.0 or ::, every interface */
} NetKind;

/* The kind of an IPv4 or IPv6 address. */
static NetKind
address_kind(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
	{
		uint32		a = ntohl(((const struct sockaddr_in *) sa)->sin_addr.s_addr);

		if (a == INADDR_ANY)
			return NET_WILDCARD;
		if ((a >> 24) == 127)
			return NET_LOOPBACK;
		if ((a >> 16) == ((169 << 8) | 254))
			return NET_LINK_LOCAL;
	}
	else if (sa->sa_family == AF_INET6)
	{
		const struct in6_addr *a = &((const struct sockaddr_in6 *) sa)->sin6_addr;

		if (IN6_IS_ADDR_UNSPECIFIED(a))
			return NET_WILDCARD;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return NET_LOOPBACK;
		if (IN6_IS_ADDR_LINKLOCAL(a))
			return NET_LINK_LOCAL;
	}
	return NET_OTHER;
}

/* An IPv4 or IPv6 socket address as numeric text, palloc'd; NULL if neither. */
static char *
address_text(const struct sockaddr *sa)
{
	char		text[INET6_ADDRSTRLEN];
	const void *addr;

	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *) sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *) sa)->sin6_addr;
	else
		return NULL;
	if (inet_ntop(sa->sa_family, addr, text, sizeof(text)) == NULL)
		return NULL;
	return pstrdup(text);
}

/* Whether a list of numeric addresses (as returned here) holds address. */
bool
net_list_has(List *addresses, const char *address)
{
	ListCell   *lc;

	foreach(lc, addresses)
	{
		if (strcmp(lfirst(lc), address) == 0)
			return true;
	}
	return false;
}

/* addresses with text appended, unless it is there already */
static List *
append_unique(List *addresses, char *text)
{
	return net_list_has(addresses, text) ? addresses : lappend(addresses, text);
}

/*
 * net_interface_addresses
 *		The addresses of this machine's interfaces that are up, link-local
 *		ones left out, loopback ones only with with_loopback: a List of
 *		palloc'd numeric strings.
 */
List *
net_interface_addresses(bool with_loopback)
{
	struct ifaddrs *ifs;
	List	   *result = NIL;

	if (getifaddrs(&ifs) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not list the network interfaces: %m")));
	PG_TRY();
	{
		for (struct ifaddrs *ifa = ifs; ifa != NULL; ifa = ifa->ifa_next)
		{
			NetKind		kind;
			char	   *text;

			if (ifa->ifa_addr == NULL || (ifa->ifa_flags & IFF_UP) == 0)
				continue;
			text = address_text(ifa->ifa_addr);
			if (text == NULL)
				continue;
			kind = address_kind(ifa->ifa_addr);
			if (kind == NET_LINK_LOCAL || kind == NET_WILDCARD)
				continue;
			if (!with_loopback &&
				(kind == NET_LOOPBACK || (ifa->ifa_flags & IFF_LOOPBACK) != 0))
				continue;
			result = append_unique(result, text);
		}
	}
	PG_FINALLY();
	{
		freeifaddrs(ifs);
	}
	PG_END_TRY();
	return result;
}

/*
 * net_resolve
 *		The IPv4 and IPv6 addresses host (a name or a numeric address, as in
 *		listen_addresses) stands for, as the postmaster would bind them: a
 *		List of palloc'd numeric strings, NIL when it does not resolve.
 */
List *
net_resolve(const char *host)
{
	struct addrinfo hints;
	struct addrinfo *addrs = NULL;
	List	   *result = NIL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (pg_getaddrinfo_all(host, NULL, &hints, &addrs) != 0)
	{
		if (addrs)
			pg_freeaddrinfo_all(hints.ai_family, addrs);
		return NIL;
	}
	PG_TRY();
	{
		for (struct addrinfo *ai = addrs; ai != NULL; ai = ai->ai_next)
		{
			char	   *text = address_text(ai->ai_addr);

			if (text != NULL)
				result = append_unique(result, text);
		}
	}
	PG_FINALLY();
	{
		pg_freeaddrinfo_all(hints.ai_family, addrs);
	}
	PG_END_TRY();
	return result;
}

/* The kind of a numeric address; NET_OTHER for anything else. */
static NetKind
text_kind(const char *address)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	if (inet_pton(AF_INET, address, &sin.sin_addr) == 1)
	{
		sin.sin_family = AF_INET;
		return address_kind((struct sockaddr *) &sin);
	}
	if (inet_pton(AF_INET6, address, &sin6.sin6_addr) == 1)
	{
		sin6.sin6_family = AF_INET6;
		return address_kind((struct sockaddr *) &sin6);
	}
	return NET_OTHER;
}

/* Whether a numeric address is a loopback one (127.0.0.0/8, ::1). */
bool
net_is_loopback(const char *address)
{
	return text_kind(address) == NET_LOOPBACK;
}

/* Whether a numeric address stands for every interface (0.0.0.0, ::). */
bool
net_is_wildcard(const char *address)
{
	return text_kind(address) == NET_WILDCARD;
}
