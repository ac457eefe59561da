/* pgrepl_admin--1.0--1.1.sql: update pgrepl_admin from 1.0 to 1.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION pgrepl_admin UPDATE TO '1.1'" to load this file. \quit

-- Each change below has its counterpart in pgrepl_admin--1.1.sql; t/091
-- checks that an install updated from 1.0 has exactly a fresh 1.1's objects.
