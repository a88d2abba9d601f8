/*
 * Memory pools (dm_pool_*).
 *
 * A pool is a stack-like allocator: memory is taken from the end of the
 * pool, and dm_pool_free(p, ptr) gives back ptr together with everything
 * allocated after it; dm_pool_empty() and dm_pool_destroy() release it all.
 * Objects of unknown final size are built with dm_pool_begin_object(),
 * dm_pool_grow_object() (delta 0: the string extra without its NUL),
 * dm_pool_end_object() or dm_pool_abandon_object(), one at a time.
 * dm_pool_lock() marks a pool locked; with crc set, dm_pool_unlock() fails
 * when the pool's memory changed in between. A pool is used by one thread
 * at a time.
 */
struct dm_pool;
