/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The pgrepl_admin maintenance worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGREPL_WORKER_H
#define PGREPL_WORKER_H

extern void pgrepl_register_maintenance_worker(void);
extern void pgrepl_wake_worker_on_extension_change(void);
extern PGDLLEXPORT void pgrepl_maintenance_worker_main(Datum main_arg);

#endif							/* PGREPL_WORKER_H */
