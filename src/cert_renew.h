/*-------------------------------------------------------------------------
 *
 * cert_renew.h
 *	  The maintenance task that renews the managed server certificate.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_CERT_RENEW_H
#define PGREPL_CERT_RENEW_H

#include "task.h"

extern const MaintenanceTask cert_renew_task;

#endif							/* PGREPL_CERT_RENEW_H */
