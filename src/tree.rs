//! `dm_tree_*`, the read side: build a dependency tree of devices and walk
//! it. A `struct dm_tree` is a core [`Tree`] plus one `struct dm_tree_node`
//! per node, made when the node appears and freed with the tree, so node
//! pointers and the names/uuids/infos they hand out stay valid for the
//! tree's life, as in libdevmapper.
//!
//! Not here (the activation side): `dm_tree_add_new_dev*`,
//! `dm_tree_{preload,activate,deactivate,suspend}_children`,
//! `dm_tree_node_add_*`, `dm_tree_node_set_{callback,presuspend_node,
//! read_ahead,thin_*}`.

use crate::ffi::{self, guard, handle, handle_mut, ok, opt_bytes, out};
use crate::task::dm_info;
use crate::CTX;
use devmapper::tree::{NodeId, Tree};
use std::ffi::{c_char, c_int, c_void};
use std::ptr::{null, null_mut};

/// The opaque `struct dm_tree`.
pub struct dm_tree {
    tree: Tree<'static>,
    /// One node per core node, by index; owned (made by `Box::into_raw`,
    /// freed when the tree is dropped).
    nodes: Vec<*mut dm_tree_node>,
}

/// The opaque `struct dm_tree_node`.
pub struct dm_tree_node {
    tree: *mut dm_tree,
    id: NodeId,
    /// NUL-terminated.
    name: Vec<u8>,
    /// NUL-terminated.
    uuid: Vec<u8>,
    info: dm_info,
    context: *mut c_void,
}

impl dm_tree {
    /// Make the C nodes of core nodes that do not have one yet.
    fn sync_nodes(&mut self, this: *mut dm_tree) {
        let have = self.nodes.len();
        for (id, n) in self.tree.nodes().skip(have) {
            let nul = |b: &[u8]| {
                let mut v = Vec::with_capacity(b.len() + 1);
                v.extend_from_slice(b);
                v.push(0);
                v
            };
            let node = dm_tree_node {
                tree: this,
                id,
                name: nul(n.name()),
                uuid: nul(n.uuid()),
                info: dm_info::from(*n.info()),
                context: null_mut(),
            };
            self.nodes.push(Box::into_raw(Box::new(node)));
        }
    }

    /// The C node of a core node.
    fn c_node(&self, id: NodeId) -> *mut dm_tree_node {
        self.nodes.get(id.index()).copied().unwrap_or(null_mut())
    }
}

impl Drop for dm_tree {
    fn drop(&mut self) {
        for p in self.nodes.drain(..) {
            // SAFETY: each pointer came from Box::into_raw in sync_nodes and
            // is freed only here.
            drop(unsafe { ffi::take_handle(p) });
        }
    }
}

/// The tree behind a `struct dm_tree *`.
unsafe fn tree_mut<'a>(p: *mut dm_tree, what: &str) -> Option<&'a mut dm_tree> {
    // SAFETY: tree pointers come from dm_tree_create (C contract); C does not
    // share a tree between threads.
    unsafe { handle_mut(p, what, "tree") }
}

/// The node behind a `struct dm_tree_node *`.
unsafe fn get_node<'a>(p: *const dm_tree_node, what: &str) -> Option<&'a dm_tree_node> {
    // SAFETY: node pointers come from this file and live as long as their
    // tree (C contract).
    unsafe { handle(p, what, "node") }
}

/// The tree a node belongs to.
unsafe fn tree_of<'a>(n: &dm_tree_node, what: &str) -> Option<&'a dm_tree> {
    // SAFETY: the back pointer of a live node is its live tree; the node is
    // a separate allocation, so this does not alias it.
    unsafe { handle(n.tree.cast_const(), what, "tree") }
}

/// The tree a node belongs to, mutably.
unsafe fn tree_of_mut<'a>(n: &dm_tree_node, what: &str) -> Option<&'a mut dm_tree> {
    // SAFETY: as in tree_of; the tree owns its nodes only through raw
    // pointers, so `&mut dm_tree` does not cover `n`.
    unsafe { handle_mut(n.tree, what, "tree") }
}

/// An empty dependency tree.
#[no_mangle]
pub extern "C" fn dm_tree_create() -> *mut dm_tree {
    guard("dm_tree_create", null_mut(), || {
        let p = Box::into_raw(Box::new(dm_tree {
            tree: Tree::new(&CTX),
            nodes: Vec::new(),
        }));
        // SAFETY: just made by Box::into_raw; nothing else refers to it yet.
        let t = unsafe { tree_mut(p, "dm_tree_create") }?;
        t.sync_nodes(p);
        Some(p)
    })
}

/// Free a tree and all its nodes (NULL is ignored).
#[no_mangle]
pub unsafe extern "C" fn dm_tree_free(dtree: *mut dm_tree) {
    guard("dm_tree_free", (), || {
        // SAFETY: the pointer came from dm_tree_create and is not used again.
        drop(unsafe { ffi::take_handle(dtree) });
        Some(())
    })
}

/// uuid suffixes `dm_tree_find_node_by_uuid` may ignore (a NULL-terminated
/// array; copied, so the caller may free it afterwards).
#[no_mangle]
pub unsafe extern "C" fn dm_tree_set_optional_uuid_suffixes(
    dtree: *mut dm_tree,
    optional_uuid_suffixes: *mut *const c_char,
) {
    guard("dm_tree_set_optional_uuid_suffixes", (), || {
        // SAFETY: a tree handle; a NULL or NULL-terminated string array (C
        // contract).
        let (t, list) = unsafe {
            (
                tree_mut(dtree, "dm_tree_set_optional_uuid_suffixes")?,
                ffi::c_string_array(optional_uuid_suffixes.cast_const()),
            )
        };
        t.tree
            .set_optional_uuid_suffixes(list.into_iter().map(<[u8]>::to_vec).collect());
        Some(())
    })
}

/// Shared body of the two add_dev exports.
unsafe fn add_dev(dtree: *mut dm_tree, major: u32, minor: u32, flags: u16, what: &str) -> c_int {
    // SAFETY: a tree handle (C contract).
    let Some(t) = (unsafe { tree_mut(dtree, what) }) else {
        return 0;
    };
    let r = t.tree.add_dev_with_udev_flags(major, minor, flags);
    // The nodes added before a failure stay in the tree.
    t.sync_nodes(dtree);
    ffi::cbool(ok(r).is_some())
}

/// Add a device and every device it uses.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_add_dev(dtree: *mut dm_tree, major: u32, minor: u32) -> c_int {
    guard("dm_tree_add_dev", 0, || {
        // SAFETY: forwarded C contract.
        Some(unsafe { add_dev(dtree, major, minor, 0, "dm_tree_add_dev") })
    })
}

/// `dm_tree_add_dev` with udev flags for the device.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_add_dev_with_udev_flags(
    dtree: *mut dm_tree,
    major: u32,
    minor: u32,
    udev_flags: u16,
) -> c_int {
    guard("dm_tree_add_dev_with_udev_flags", 0, || {
        // SAFETY: forwarded C contract.
        Some(unsafe {
            add_dev(
                dtree,
                major,
                minor,
                udev_flags,
                "dm_tree_add_dev_with_udev_flags",
            )
        })
    })
}

/// The node of a device number (`0, 0`: the root), or NULL.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_find_node(
    dtree: *mut dm_tree,
    major: u32,
    minor: u32,
) -> *mut dm_tree_node {
    guard("dm_tree_find_node", null_mut(), || {
        // SAFETY: a tree handle (C contract).
        let t = unsafe { tree_mut(dtree, "dm_tree_find_node") }?;
        Some(
            t.tree
                .find_node(major, minor)
                .map_or(null_mut(), |id| t.c_node(id)),
        )
    })
}

/// The node of a uuid (NULL or "": the root), or NULL.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_find_node_by_uuid(
    dtree: *mut dm_tree,
    uuid: *const c_char,
) -> *mut dm_tree_node {
    guard("dm_tree_find_node_by_uuid", null_mut(), || {
        // SAFETY: a tree handle; a C string or NULL (C contract).
        let (t, u) = unsafe {
            (
                tree_mut(dtree, "dm_tree_find_node_by_uuid")?,
                opt_bytes(uuid),
            )
        };
        let id = t.tree.find_node_by_uuid(u.unwrap_or(b""));
        Some(id.map_or(null_mut(), |id| t.c_node(id)))
    })
}

/// The next child (`inverted`: parent) of `parent`; `*handle` is the
/// cursor, NULL to start. NULL after the last one (and the cursor is reset).
#[no_mangle]
pub unsafe extern "C" fn dm_tree_next_child(
    handle: *mut *mut c_void,
    parent: *const dm_tree_node,
    inverted: u32,
) -> *mut dm_tree_node {
    guard("dm_tree_next_child", null_mut(), || {
        // SAFETY: a node handle and the caller's cursor variable (C contract).
        let (n, cursor) = unsafe {
            (
                get_node(parent, "dm_tree_next_child")?,
                ffi::read(handle.cast_const(), "dm_tree_next_child", "handle")?,
            )
        };
        // SAFETY: the node's tree (see tree_of).
        let t = unsafe { tree_of(n, "dm_tree_next_child") }?;
        // The cursor is the position of the last child returned, plus one.
        let next = cursor as usize;
        let (child, cursor) = match t.tree.children(n.id, inverted != 0).get(next) {
            Some(&c) => (t.c_node(c), (next + 1) as *mut c_void),
            None => (null_mut(), null_mut()),
        };
        // SAFETY: checked readable above, and writable (C contract).
        unsafe { out(handle, cursor) };
        Some(child)
    })
}

/// The device's name ("" for the root and devices that are not mapped).
#[no_mangle]
pub unsafe extern "C" fn dm_tree_node_get_name(node: *const dm_tree_node) -> *const c_char {
    guard("dm_tree_node_get_name", null(), || {
        // SAFETY: a node handle (C contract).
        let n = unsafe { get_node(node, "dm_tree_node_get_name") }?;
        Some(n.name.as_ptr().cast())
    })
}

/// The device's uuid ("" like the name, and for devices without one).
#[no_mangle]
pub unsafe extern "C" fn dm_tree_node_get_uuid(node: *const dm_tree_node) -> *const c_char {
    guard("dm_tree_node_get_uuid", null(), || {
        // SAFETY: a node handle (C contract).
        let n = unsafe { get_node(node, "dm_tree_node_get_uuid") }?;
        Some(n.uuid.as_ptr().cast())
    })
}

/// The device's info, valid for the tree's life.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_node_get_info(node: *const dm_tree_node) -> *const dm_info {
    guard("dm_tree_node_get_info", null(), || {
        // SAFETY: a node handle (C contract).
        let n = unsafe { get_node(node, "dm_tree_node_get_info") }?;
        Some(&n.info as *const dm_info)
    })
}

/// The caller's context pointer of the node (NULL for nodes made by
/// `dm_tree_add_dev`).
#[no_mangle]
pub unsafe extern "C" fn dm_tree_node_get_context(node: *const dm_tree_node) -> *mut c_void {
    guard("dm_tree_node_get_context", null_mut(), || {
        // SAFETY: a node handle (C contract).
        Some(unsafe { get_node(node, "dm_tree_node_get_context") }?.context)
    })
}

/// 1 when a table load grew the device, -1 when it shrank it, else 0.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_node_size_changed(dnode: *const dm_tree_node) -> c_int {
    guard("dm_tree_node_size_changed", 0, || {
        // SAFETY: a node handle (C contract).
        let n = unsafe { get_node(dnode, "dm_tree_node_size_changed") }?;
        // SAFETY: the node's tree (see tree_of).
        let t = unsafe { tree_of(n, "dm_tree_node_size_changed") }?;
        Some(t.tree.node(n.id).map_or(0, |c| c.size_changed()))
    })
}

/// For shim.c's `dm_tree_node_size_changed@Base`.
/// cbindgen:ignore
#[no_mangle]
pub unsafe extern "C" fn dmrs_tree_node_size_changed(dnode: *const dm_tree_node) -> c_int {
    // SAFETY: forwarded C contract.
    unsafe { dm_tree_node_size_changed(dnode) }
}

/// How many nodes the node uses (`inverted`: how many use it).
#[no_mangle]
pub unsafe extern "C" fn dm_tree_node_num_children(
    node: *const dm_tree_node,
    inverted: u32,
) -> c_int {
    guard("dm_tree_node_num_children", 0, || {
        // SAFETY: a node handle (C contract).
        let n = unsafe { get_node(node, "dm_tree_node_num_children") }?;
        // SAFETY: the node's tree (see tree_of).
        let t = unsafe { tree_of(n, "dm_tree_node_num_children") }?;
        Some(c_int::try_from(t.tree.num_children(n.id, inverted != 0)).unwrap_or(c_int::MAX))
    })
}

/// 1 when a node the node uses directly has a uuid with the prefix.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_children_use_uuid(
    dnode: *mut dm_tree_node,
    uuid_prefix: *const c_char,
    uuid_prefix_len: usize,
) -> c_int {
    guard("dm_tree_children_use_uuid", 0, || {
        // SAFETY: a node handle; a C string or NULL (C contract).
        let (n, prefix) = unsafe {
            (
                get_node(dnode, "dm_tree_children_use_uuid")?,
                opt_bytes(uuid_prefix),
            )
        };
        // SAFETY: the node's tree (see tree_of).
        let t = unsafe { tree_of(n, "dm_tree_children_use_uuid") }?;
        Some(ffi::cbool(t.tree.children_use_uuid(
            n.id,
            prefix,
            uuid_prefix_len,
        )))
    })
}

/// Set the node's udev flags.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_node_set_udev_flags(node: *mut dm_tree_node, udev_flags: u16) {
    guard("dm_tree_node_set_udev_flags", (), || {
        // SAFETY: a node handle (C contract).
        let n = unsafe { get_node(node, "dm_tree_node_set_udev_flags") }?;
        // SAFETY: the node's tree (see tree_of_mut).
        let t = unsafe { tree_of_mut(n, "dm_tree_node_set_udev_flags") }?;
        t.tree.set_udev_flags(n.id, udev_flags);
        Some(())
    })
}

/// Set the udev cookie the tree's operations share.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_set_cookie(node: *mut dm_tree_node, cookie: u32) {
    guard("dm_tree_set_cookie", (), || {
        // SAFETY: a node handle and its tree (C contract).
        let n = unsafe { get_node(node, "dm_tree_set_cookie") }?;
        // SAFETY: as above.
        unsafe { tree_of_mut(n, "dm_tree_set_cookie") }?
            .tree
            .set_cookie(cookie);
        Some(())
    })
}

/// The udev cookie of the node's tree.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_get_cookie(node: *mut dm_tree_node) -> u32 {
    guard("dm_tree_get_cookie", 0, || {
        // SAFETY: a node handle and its tree (C contract).
        let n = unsafe { get_node(node, "dm_tree_get_cookie") }?;
        // SAFETY: as above.
        Some(unsafe { tree_of(n, "dm_tree_get_cookie") }?.tree.cookie())
    })
}

/// Suspend the tree's devices without flushing file systems.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_skip_lockfs(dnode: *mut dm_tree_node) {
    guard("dm_tree_skip_lockfs", (), || {
        // SAFETY: a node handle and its tree (C contract).
        let n = unsafe { get_node(dnode, "dm_tree_skip_lockfs") }?;
        // SAFETY: as above.
        unsafe { tree_of_mut(n, "dm_tree_skip_lockfs") }?
            .tree
            .set_skip_lockfs();
        Some(())
    })
}

/// Suspend the tree's devices with `noflush`.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_use_no_flush_suspend(dnode: *mut dm_tree_node) {
    guard("dm_tree_use_no_flush_suspend", (), || {
        // SAFETY: a node handle and its tree (C contract).
        let n = unsafe { get_node(dnode, "dm_tree_use_no_flush_suspend") }?;
        // SAFETY: as above.
        unsafe { tree_of_mut(n, "dm_tree_use_no_flush_suspend") }?
            .tree
            .set_no_flush();
        Some(())
    })
}

/// Retry the removal of the tree's devices when it fails.
#[no_mangle]
pub unsafe extern "C" fn dm_tree_retry_remove(dnode: *mut dm_tree_node) {
    guard("dm_tree_retry_remove", (), || {
        // SAFETY: a node handle and its tree (C contract).
        let n = unsafe { get_node(dnode, "dm_tree_retry_remove") }?;
        // SAFETY: as above.
        unsafe { tree_of_mut(n, "dm_tree_retry_remove") }?
            .tree
            .set_retry_remove();
        Some(())
    })
}
