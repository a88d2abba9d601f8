/*
 * libdevmapper.h: C interface of libdevmapper-rs, a source- and
 * binary-compatible replacement for LVM2's libdevmapper 1.02.185.
 *
 * Licence: LGPL-2.1-only.
 */

#ifndef LIB_DEVICE_MAPPER_H
#define LIB_DEVICE_MAPPER_H
