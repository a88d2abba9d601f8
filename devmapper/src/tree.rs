//! Dependency trees of mapped devices: the read side of libdevmapper's
//! `dm_tree`.
//!
//! A [`Tree`] holds one node per device it was given and per device those
//! use, found through the kernel's DEPS answers exactly as libdevmapper's
//! `dm_tree_add_dev` finds them. Block devices that are not mapped devices
//! (disks, loop devices) become leaves that only know their device number.
//!
//! Like libdevmapper, the tree has a root node that stands for "nothing":
//! it is the parent of every node nobody uses (the top level) and the child
//! of every node that uses nothing (the bottom level). So [`Tree::children`]
//! of a bottom-level node is just the root, and [`Tree::num_children`] gives
//! libdevmapper's count, which is 0 for such nodes. Nodes are listed in the
//! order libdevmapper lists them (the order in which links were made).
//!
//! ```no_run
//! use devmapper::tree::Tree;
//! use devmapper::{Context, DeviceMapper};
//! let dm = DeviceMapper::new()?;
//! let mut tree = Tree::new(dm.context());
//! for d in dm.list_devices()? {
//!     tree.add_dev(d.major, d.minor)?;
//! }
//! for &top in tree.children(tree.root(), false) {
//!     let n = tree.node(top).unwrap();
//!     println!("{} uses {} devices", String::from_utf8_lossy(n.name()), tree.num_children(top, false));
//! }
//! # Ok::<(), devmapper::Error>(())
//! ```
//!
//! What activates, loads or removes devices through a tree (libdevmapper's
//! `dm_tree_preload_children`, `dm_tree_activate_children`, ...) is not here.

use crate::context::Context;
use crate::devices;
use crate::error::Error;
use crate::kernel::abi;
use crate::kernel::codec;
use crate::task::{Info, Task, TaskType};
use crate::udev;
use std::collections::HashMap;

/// A node of a [`Tree`]: an index, valid for the tree that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(usize);

impl NodeId {
    /// The root node of every tree.
    pub const ROOT: NodeId = NodeId(0);

    /// The position of the node in its tree (0 for the root, then in order
    /// of creation).
    pub const fn index(self) -> usize {
        self.0
    }
}

/// One device of a [`Tree`].
#[derive(Clone, Debug, Default)]
pub struct Node {
    name: Vec<u8>,
    uuid: Vec<u8>,
    info: Info,
    uses: Vec<NodeId>,
    used_by: Vec<NodeId>,
    implicit_deps: bool,
    udev_flags: u16,
    size_changed: i32,
}

impl Node {
    /// The device's name (`dm_tree_node_get_name`): empty for the root, for
    /// devices that are not mapped devices and for devices that were gone
    /// when the tree asked.
    pub fn name(&self) -> &[u8] {
        if self.info.exists != 0 {
            &self.name
        } else {
            b""
        }
    }

    /// The device's uuid (`dm_tree_node_get_uuid`); empty like
    /// [`Node::name`], and for mapped devices without one.
    pub fn uuid(&self) -> &[u8] {
        if self.info.exists != 0 {
            &self.uuid
        } else {
            b""
        }
    }

    /// What the kernel said about the device (`dm_tree_node_get_info`), in
    /// libdevmapper's `dm_info` shape ([`device_info`](Node::device_info) is
    /// the typed form). Only `major` and `minor` are set for devices that
    /// are not mapped devices; everything is zero for the root.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// What the kernel said about the device, typed: the same
    /// [`DeviceInfo`](crate::DeviceInfo) as
    /// [`DeviceMapper::info`](crate::DeviceMapper::info) gives, with the
    /// node's name and uuid.
    /// `None` for the root, for devices that are not mapped devices and for
    /// devices that were gone when the tree asked.
    pub fn device_info(&self) -> Option<crate::DeviceInfo> {
        (self.info.exists != 0)
            .then(|| crate::DeviceInfo::from_task_info(&self.info, &self.name, &self.uuid))
    }

    /// The device number.
    pub fn devno(&self) -> (u32, u32) {
        (self.info.major, self.info.minor)
    }

    /// The udev flags recorded for the device (`DM_UDEV_*`).
    pub fn udev_flags(&self) -> u16 {
        self.udev_flags
    }

    /// Whether the node was only added as a dependency of another one.
    pub fn is_implicit(&self) -> bool {
        self.implicit_deps
    }

    /// `dm_tree_node_size_changed`: 1 if a table load grew the device (or
    /// one it uses), -1 if it shrank it, 0 otherwise. Only table loads set
    /// it, so it is 0 in a tree that only inspects devices.
    pub fn size_changed(&self) -> i32 {
        self.size_changed
    }
}

/// A dependency tree of devices (`struct dm_tree`).
#[derive(Debug)]
pub struct Tree<'ctx> {
    ctx: &'ctx Context,
    nodes: Vec<Node>,
    by_dev: HashMap<u64, NodeId>,
    by_uuid: HashMap<Vec<u8>, NodeId>,
    optional_uuid_suffixes: Vec<Vec<u8>>,
    skip_lockfs: bool,
    no_flush: bool,
    retry_remove: bool,
    cookie: u32,
}

/// The udev flags a device added as a dependency gets on top of its user's.
const IMPLICIT_UDEV_FLAGS: u16 = udev::DISABLE_SUBSYSTEM_RULES_FLAG
    | udev::DISABLE_DISK_RULES_FLAG
    | udev::DISABLE_OTHER_RULES_FLAG;

/// What one DEPS question told about a device.
struct Deps {
    name: Vec<u8>,
    uuid: Vec<u8>,
    info: Info,
    deps: Option<Vec<u64>>,
}

/// `strncmp(a, b, n) == 0` on C strings (each ends at its first NUL or at
/// the end of its slice).
fn strncmp_eq(a: &[u8], b: &[u8], n: usize) -> bool {
    let mut i = 0;
    while i < n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        if x != y {
            return false;
        }
        if x == 0 {
            return true;
        }
        i += 1;
    }
    true
}

/// libdevmapper's `_uuid_prefix_matches`: whether `uuid` starts with the
/// first `prefix_len` bytes of `prefix` (always, without a prefix). A
/// prefix longer than 4 bytes that starts with the default uuid prefix also
/// matches a uuid that lacks that default prefix.
fn uuid_prefix_matches(
    uuid: &[u8],
    prefix: Option<&[u8]>,
    prefix_len: usize,
    default_prefix: &[u8],
) -> bool {
    let Some(prefix) = prefix else {
        return true;
    };
    if strncmp_eq(uuid, prefix, prefix_len) {
        return true;
    }
    if prefix_len <= 4 {
        return false;
    }
    let dl = default_prefix.len();
    if strncmp_eq(uuid, default_prefix, dl) || !strncmp_eq(prefix, default_prefix, dl) {
        return false;
    }
    strncmp_eq(
        uuid,
        prefix.get(dl..).unwrap_or(b""),
        prefix_len.wrapping_sub(dl),
    )
}

impl<'ctx> Tree<'ctx> {
    /// An empty tree (`dm_tree_create`): only the root node. The tree asks
    /// the kernel, and logs, through `ctx`.
    pub fn new(ctx: &'ctx Context) -> Tree<'ctx> {
        Tree {
            ctx,
            nodes: vec![Node::default()],
            by_dev: HashMap::new(),
            by_uuid: HashMap::new(),
            optional_uuid_suffixes: Vec::new(),
            skip_lockfs: false,
            no_flush: false,
            retry_remove: false,
            cookie: 0,
        }
    }

    /// The context the tree works in.
    pub fn context(&self) -> &'ctx Context {
        self.ctx
    }

    /// The root node.
    pub fn root(&self) -> NodeId {
        NodeId::ROOT
    }

    /// Number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree has only its root.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// A node (`None` for an id from another, larger tree).
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id.0)
    }

    /// Every node with its id, the root first, then in order of creation.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeId, &Node)> + '_ {
        self.nodes.iter().enumerate().map(|(i, n)| (NodeId(i), n))
    }

    /// The nodes `id` uses (`inverted`: the nodes that use `id`), in
    /// libdevmapper's order: what `dm_tree_next_child` walks. The root
    /// appears here as the child of bottom-level nodes and the parent of
    /// top-level ones.
    pub fn children(&self, id: NodeId, inverted: bool) -> &[NodeId] {
        match self.nodes.get(id.0) {
            Some(n) if inverted => &n.used_by,
            Some(n) => &n.uses,
            None => &[],
        }
    }

    /// `dm_tree_node_num_children`: how many nodes `id` uses (`inverted`:
    /// how many use it), 0 when that is only the root.
    pub fn num_children(&self, id: NodeId, inverted: bool) -> usize {
        let linked = if inverted {
            self.linked(NodeId::ROOT, id)
        } else {
            self.linked(id, NodeId::ROOT)
        };
        if linked {
            0
        } else {
            self.children(id, inverted).len()
        }
    }

    /// `dm_tree_find_node`: the node of a device number; `(0, 0)` is the
    /// root.
    pub fn find_node(&self, major: u32, minor: u32) -> Option<NodeId> {
        if major == 0 && minor == 0 {
            return Some(NodeId::ROOT);
        }
        self.by_dev.get(&abi::encode_dev(major, minor)).copied()
    }

    /// `dm_tree_find_node_by_uuid`: the node of a uuid; an empty uuid is the
    /// root. A uuid also matches a device whose uuid lacks one of the
    /// optional suffixes (`-<suffix>`, see
    /// [`set_optional_uuid_suffixes`](Tree::set_optional_uuid_suffixes)) or
    /// lacks the context's uuid prefix (`LVM-`).
    pub fn find_node_by_uuid(&self, uuid: &[u8]) -> Option<NodeId> {
        if uuid.is_empty() {
            return Some(NodeId::ROOT);
        }
        let ctx = self.ctx;
        let text = String::from_utf8_lossy;
        if let Some(&id) = self.by_uuid.get(uuid) {
            crate::log_debug!(ctx, "Matched uuid {} in deptree.", text(uuid));
            return Some(id);
        }
        let default_prefix = ctx.uuid_prefix();
        if let Some(pos) = uuid.iter().rposition(|&b| b == b'-') {
            let tail = &uuid[pos + 1..];
            if let Some(suffix) = self.optional_uuid_suffixes.iter().find(|s| &s[..] == tail) {
                let stem = &uuid[..pos];
                if let Some(&id) = self.by_uuid.get(stem) {
                    crate::log_debug!(
                        ctx,
                        "Matched uuid {} (missing suffix -{}) in deptree.",
                        text(stem),
                        text(suffix)
                    );
                    return Some(id);
                }
            }
        }
        let rest = uuid.strip_prefix(&default_prefix[..])?;
        if let Some(&id) = self.by_uuid.get(rest) {
            crate::log_debug!(
                ctx,
                "Matched uuid {} (missing prefix) in deptree.",
                text(rest)
            );
            return Some(id);
        }
        crate::log_debug!(ctx, "Not matched uuid {} in deptree.", text(uuid));
        None
    }

    /// `dm_tree_set_optional_uuid_suffixes`: suffixes that
    /// [`find_node_by_uuid`](Tree::find_node_by_uuid) may ignore. Only the
    /// first one that a uuid ends with (after its last `-`) is tried.
    pub fn set_optional_uuid_suffixes(&mut self, suffixes: Vec<Vec<u8>>) {
        self.optional_uuid_suffixes = suffixes;
    }

    /// The optional uuid suffixes.
    pub fn optional_uuid_suffixes(&self) -> &[Vec<u8>] {
        &self.optional_uuid_suffixes
    }

    /// `dm_tree_add_dev`: add the device and, recursively, every device its
    /// live table uses. A device already in the tree is linked to its new
    /// user but not asked again.
    ///
    /// On failure the devices added so far stay in the tree, as in
    /// libdevmapper. The error carries libdevmapper's lines (the failed
    /// DEPS ioctl, then `_deps: task run failed for (M:m)`).
    pub fn add_dev(&mut self, major: u32, minor: u32) -> Result<NodeId, Error> {
        self.add_dev_with_udev_flags(major, minor, 0)
    }

    /// `dm_tree_add_dev_with_udev_flags`: [`add_dev`](Tree::add_dev) with
    /// udev flags for the device; the devices it uses get these flags plus
    /// the flags that keep udev rules away from them (as in libdevmapper).
    pub fn add_dev_with_udev_flags(
        &mut self,
        major: u32,
        minor: u32,
        udev_flags: u16,
    ) -> Result<NodeId, Error> {
        struct Frame {
            node: NodeId,
            deps: Vec<u64>,
            next: usize,
        }
        // libdevmapper recurses; an explicit stack keeps the same order
        // without depending on the depth of the device stack.
        let (top, deps) = self.add_one(NodeId::ROOT, major, minor, udev_flags, false)?;
        let mut stack = Vec::new();
        if let Some(deps) = deps {
            stack.push(Frame {
                node: top,
                deps,
                next: 0,
            });
        }
        let flags = udev_flags | IMPLICIT_UDEV_FLAGS;
        while let Some(f) = stack.last_mut() {
            let Some(&dev) = f.deps.get(f.next) else {
                stack.pop();
                continue;
            };
            f.next += 1;
            let parent = f.node;
            let (maj, min) = abi::decode_dev(dev);
            let (child, deps) = self.add_one(parent, maj, min, flags, true)?;
            if let Some(deps) = deps {
                stack.push(Frame {
                    node: child,
                    deps,
                    next: 0,
                });
            }
        }
        Ok(top)
    }

    /// One step of libdevmapper's `_add_dev`: find or create the node, link
    /// it under `parent`; the dependencies still to add for a new node.
    fn add_one(
        &mut self,
        parent: NodeId,
        major: u32,
        minor: u32,
        udev_flags: u16,
        implicit: bool,
    ) -> Result<(NodeId, Option<Vec<u64>>), Error> {
        let (id, new_deps) = match self.by_dev.get(&abi::encode_dev(major, minor)) {
            None => {
                let d = self.deps(major, minor)?;
                let id = self.create_node(d.name, d.uuid, d.info, udev_flags);
                self.nodes[id.0].implicit_deps = implicit;
                (id, Some(d.deps))
            }
            Some(&id) => {
                let n = &mut self.nodes[id.0];
                if !implicit && n.implicit_deps {
                    n.udev_flags = udev_flags;
                    n.implicit_deps = false;
                }
                (id, None)
            }
        };
        self.link_tree_nodes(parent, id);
        let Some(deps) = new_deps else {
            return Ok((id, None));
        };
        match deps {
            Some(d) if self.nodes[id.0].info.exists != 0 && !d.is_empty() => Ok((id, Some(d))),
            _ => {
                self.link(id, NodeId::ROOT);
                Ok((id, None))
            }
        }
    }

    /// libdevmapper's `_deps`: name, uuid, info and dependencies of a
    /// device (only the number for devices that are not mapped devices).
    fn deps(&self, major: u32, minor: u32) -> Result<Deps, Error> {
        let ctx = self.ctx;
        let mut info = Info::default();
        if !devices::is_dm_major(ctx, major) {
            info.major = major;
            info.minor = minor;
            return Ok(Deps {
                name: Vec::new(),
                uuid: Vec::new(),
                info,
                deps: None,
            });
        }
        let mut t = Task::new(TaskType::Deps as i32);
        t.set_major(major as i32);
        t.minor = minor as i32;
        if let Err(e) = t.run(ctx) {
            let note = format!("_deps: task run failed for ({major}:{minor})");
            return Err(if e.is_silent() {
                // Its lines are out already: keep the order.
                crate::log_error!(ctx, "{note}");
                e
            } else {
                e.with_note(note)
            });
        }
        let Some(info) = t.info() else {
            return Err(Error::protocol(format!(
                "_deps: failed to get info for ({major}:{minor})"
            )));
        };
        if info.exists == 0 {
            return Ok(Deps {
                name: Vec::new(),
                uuid: Vec::new(),
                info,
                deps: None,
            });
        }
        if info.major != major {
            return Err(Error::protocol(format!(
                "Inconsistent dtree major number: {major} != {}",
                info.major
            )));
        }
        if info.minor != minor {
            return Err(Error::protocol(format!(
                "Inconsistent dtree minor number: {minor} != {}",
                info.minor
            )));
        }
        Ok(Deps {
            name: t.reply_name().unwrap_or_default().to_vec(),
            uuid: t.reply_uuid().unwrap_or_default().to_vec(),
            info,
            deps: t.reply_payload().and_then(|p| codec::decode_deps(p).ok()),
        })
    }

    /// libdevmapper's `_create_dm_tree_node`: a new node, findable by its
    /// device number and (when it has one) its uuid. A later node with the
    /// same number or uuid takes over the lookup, as in libdevmapper's hash.
    fn create_node(&mut self, name: Vec<u8>, uuid: Vec<u8>, info: Info, udev_flags: u16) -> NodeId {
        let id = NodeId(self.nodes.len());
        self.by_dev
            .insert(abi::encode_dev(info.major, info.minor), id);
        if !uuid.is_empty() {
            self.by_uuid.insert(uuid.clone(), id);
        }
        self.nodes.push(Node {
            name,
            uuid,
            info,
            udev_flags,
            ..Node::default()
        });
        id
    }

    fn linked(&self, parent: NodeId, child: NodeId) -> bool {
        self.children(parent, false).contains(&child)
    }

    /// `_link_nodes`: `parent` uses `child` (once).
    fn link(&mut self, parent: NodeId, child: NodeId) {
        if self.linked(parent, child) {
            return;
        }
        self.nodes[parent.0].uses.push(child);
        self.nodes[child.0].used_by.push(parent);
    }

    /// `_unlink_nodes`.
    fn unlink(&mut self, parent: NodeId, child: NodeId) {
        if !self.linked(parent, child) {
            return;
        }
        let uses = &mut self.nodes[parent.0].uses;
        if let Some(i) = uses.iter().position(|&n| n == child) {
            uses.remove(i);
        }
        let used_by = &mut self.nodes[child.0].used_by;
        if let Some(i) = used_by.iter().position(|&n| n == parent) {
            used_by.remove(i);
        }
    }

    /// `_link_tree_nodes`: link `parent` to `child`, moving `child` off the
    /// top level and `parent` off the bottom level (links to the root are
    /// only made for nodes with no other parent / child).
    fn link_tree_nodes(&mut self, parent: NodeId, child: NodeId) {
        if parent == NodeId::ROOT {
            if self.num_children(child, true) != 0 {
                return;
            }
        } else {
            self.unlink(NodeId::ROOT, child);
        }
        if child == NodeId::ROOT {
            if self.num_children(parent, false) != 0 {
                return;
            }
        } else {
            self.unlink(parent, NodeId::ROOT);
        }
        self.link(parent, child);
    }

    /// The node as libdevmapper's debug lines name it: `name (M:m)`.
    fn node_label(&self, id: NodeId) -> String {
        match self.nodes.get(id.0) {
            Some(n) => format!(
                "{} ({}:{})",
                String::from_utf8_lossy(&n.name),
                n.info.major,
                n.info.minor
            ),
            None => String::new(),
        }
    }

    /// `dm_tree_node_set_udev_flags`.
    pub fn set_udev_flags(&mut self, id: NodeId, udev_flags: u16) {
        let Some(old) = self.nodes.get(id.0).map(|n| n.udev_flags) else {
            return;
        };
        if old != udev_flags {
            crate::log_debug_act!(
                self.ctx,
                "Resetting {} udev_flags from 0x{:x} to 0x{:x}.",
                self.node_label(id),
                old,
                udev_flags
            );
        }
        self.nodes[id.0].udev_flags = udev_flags;
    }

    /// `dm_tree_children_use_uuid`: whether a node that `id` uses directly
    /// has a uuid that starts with the first `prefix_len` bytes of `prefix`
    /// (see libdevmapper for the `LVM-` transition rule; no prefix matches
    /// everything). Nodes further down do not count: libdevmapper walks
    /// them but ignores what it finds.
    pub fn children_use_uuid(&self, id: NodeId, prefix: Option<&[u8]>, prefix_len: usize) -> bool {
        let default_prefix = self.ctx.uuid_prefix();
        self.children(id, false).iter().any(|&c| {
            let uuid = self.nodes.get(c.0).map(Node::uuid).unwrap_or_default();
            uuid_prefix_matches(uuid, prefix, prefix_len, &default_prefix)
        })
    }

    /// `dm_tree_set_cookie`: the udev cookie tree operations share.
    pub fn set_cookie(&mut self, cookie: u32) {
        self.cookie = cookie;
    }

    /// `dm_tree_get_cookie`.
    pub fn cookie(&self) -> u32 {
        self.cookie
    }

    /// `dm_tree_skip_lockfs`: suspend devices without flushing file systems.
    pub fn set_skip_lockfs(&mut self) {
        self.skip_lockfs = true;
    }

    /// Whether [`set_skip_lockfs`](Tree::set_skip_lockfs) was called.
    pub fn skip_lockfs(&self) -> bool {
        self.skip_lockfs
    }

    /// `dm_tree_use_no_flush_suspend`: suspend devices with `noflush`.
    pub fn set_no_flush(&mut self) {
        self.no_flush = true;
    }

    /// Whether [`set_no_flush`](Tree::set_no_flush) was called.
    pub fn no_flush(&self) -> bool {
        self.no_flush
    }

    /// `dm_tree_retry_remove`: retry removals that fail.
    pub fn set_retry_remove(&mut self) {
        self.retry_remove = true;
    }

    /// Whether [`set_retry_remove`](Tree::set_retry_remove) was called.
    pub fn retry_remove(&self) -> bool {
        self.retry_remove
    }

    /// A node with this info, linked under `parent` (for tests of the
    /// linking rules without a kernel).
    #[cfg(test)]
    fn add_fake(
        &mut self,
        parent: NodeId,
        name: &str,
        uuid: &str,
        major: u32,
        minor: u32,
    ) -> NodeId {
        let info = Info {
            exists: 1,
            major,
            minor,
            ..Info::default()
        };
        let id = self.create_node(name.into(), uuid.into(), info, 0);
        self.link_tree_nodes(parent, id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &Tree<'_>, id: NodeId, inverted: bool) -> Vec<String> {
        t.children(id, inverted)
            .iter()
            .map(|&c| {
                if c == NodeId::ROOT {
                    "<root>".to_string()
                } else {
                    String::from_utf8_lossy(t.node(c).unwrap().name()).into_owned()
                }
            })
            .collect()
    }

    /// top -> mid -> {a, b}; a and b are leaves.
    fn stack(ctx: &Context) -> (Tree<'_>, [NodeId; 4]) {
        let mut t = Tree::new(ctx);
        let top = t.add_fake(NodeId::ROOT, "top", "LVM-top", 253, 3);
        let mid = t.add_fake(top, "mid", "LVM-mid", 253, 2);
        let a = t.add_fake(mid, "a", "", 253, 0);
        t.link(a, NodeId::ROOT);
        let b = t.add_fake(mid, "b", "OTHER-b", 253, 1);
        t.link(b, NodeId::ROOT);
        (t, [top, mid, a, b])
    }

    #[test]
    fn linking_follows_libdevmapper() {
        let ctx = Context::new();
        let (t, [top, mid, a, b]) = stack(&ctx);
        assert_eq!(names(&t, NodeId::ROOT, false), ["top"]);
        assert_eq!(names(&t, NodeId::ROOT, true), ["a", "b"]);
        assert_eq!(names(&t, top, false), ["mid"]);
        assert_eq!(names(&t, top, true), ["<root>"]);
        assert_eq!(names(&t, mid, false), ["a", "b"]);
        assert_eq!(names(&t, a, false), ["<root>"]);
        assert_eq!(t.num_children(top, false), 1);
        assert_eq!(t.num_children(top, true), 0);
        assert_eq!(t.num_children(mid, false), 2);
        assert_eq!(t.num_children(mid, true), 1);
        assert_eq!(t.num_children(a, false), 0);
        assert_eq!(t.num_children(b, true), 1);
        assert_eq!(t.num_children(NodeId::ROOT, false), 1);
        assert_eq!(t.num_children(NodeId::ROOT, true), 2);
        assert_eq!(t.len(), 5);
        assert!(!t.is_empty());
    }

    #[test]
    fn second_user_moves_a_top_level_node_down() {
        let ctx = Context::new();
        let mut t = Tree::new(&ctx);
        // "a" first on its own (top and bottom level), then used by "u".
        let a = t.add_fake(NodeId::ROOT, "a", "", 253, 0);
        t.link(a, NodeId::ROOT);
        assert_eq!(names(&t, NodeId::ROOT, false), ["a"]);
        let u = t.add_fake(NodeId::ROOT, "u", "", 253, 1);
        t.link_tree_nodes(u, a);
        assert_eq!(names(&t, NodeId::ROOT, false), ["u"]);
        assert_eq!(names(&t, a, true), ["u"]);
        assert_eq!(names(&t, u, false), ["a"]);
        // Linking "a" under the root again does nothing: it has a parent.
        t.link_tree_nodes(NodeId::ROOT, a);
        assert_eq!(names(&t, NodeId::ROOT, false), ["u"]);
        // A link made twice is kept once.
        t.link_tree_nodes(u, a);
        assert_eq!(t.num_children(u, false), 1);
    }

    #[test]
    fn lookups() {
        let ctx = Context::new();
        let (mut t, [top, mid, a, b]) = stack(&ctx);
        assert_eq!(t.find_node(0, 0), Some(NodeId::ROOT));
        assert_eq!(t.find_node(253, 2), Some(mid));
        assert_eq!(t.find_node(253, 9), None);
        assert_eq!(t.find_node(0, 1), None);
        assert_eq!(t.find_node_by_uuid(b""), Some(NodeId::ROOT));
        assert_eq!(t.find_node_by_uuid(b"LVM-top"), Some(top));
        assert_eq!(t.find_node_by_uuid(b"OTHER-b"), Some(b));
        assert_eq!(t.find_node_by_uuid(b"LVM-OTHER-b"), Some(b));
        assert_eq!(t.find_node_by_uuid(b"OTHER-b-real"), None);
        t.set_optional_uuid_suffixes(vec![b"real".to_vec(), b"cow".to_vec()]);
        assert_eq!(t.find_node_by_uuid(b"OTHER-b-real"), Some(b));
        assert_eq!(t.find_node_by_uuid(b"OTHER-b-cow"), Some(b));
        assert_eq!(t.find_node_by_uuid(b"OTHER-b-pool"), None);
        // suffix stripping, then the default prefix on the whole uuid
        assert_eq!(t.find_node_by_uuid(b"LVM-LVM-mid-real"), None);
        assert_eq!(t.find_node_by_uuid(b"LVM-LVM-mid"), Some(mid));
        assert_eq!(t.node(a).unwrap().uuid(), b"");
        assert_eq!(t.optional_uuid_suffixes().len(), 2);
        let other = Tree::new(&ctx);
        assert!(other.node(top).is_none());
        assert!(other.children(top, false).is_empty());
    }

    #[test]
    fn root_and_flags() {
        let ctx = Context::new();
        let (mut t, [top, mid, _, _]) = stack(&ctx);
        let root = t.node(t.root()).unwrap();
        assert_eq!(root.name(), b"");
        assert_eq!(root.uuid(), b"");
        assert_eq!(root.info().exists, 0);
        assert_eq!(root.devno(), (0, 0));
        assert_eq!(t.node(top).unwrap().name(), b"top");
        assert_eq!(t.node(mid).unwrap().info().minor, 2);
        assert_eq!(t.node(mid).unwrap().size_changed(), 0);
        t.set_udev_flags(mid, 0x20);
        assert_eq!(t.node(mid).unwrap().udev_flags(), 0x20);
        t.set_udev_flags(NodeId(99), 1);
        assert!(!t.skip_lockfs() && !t.no_flush() && !t.retry_remove());
        t.set_skip_lockfs();
        t.set_no_flush();
        t.set_retry_remove();
        assert!(t.skip_lockfs() && t.no_flush() && t.retry_remove());
        assert_eq!(t.cookie(), 0);
        t.set_cookie(0x0d4d1234);
        assert_eq!(t.cookie(), 0x0d4d1234);
    }

    #[test]
    fn typed_device_info() {
        let ctx = Context::new();
        let (mut t, [top, _, _, _]) = stack(&ctx);
        assert_eq!(t.node(t.root()).unwrap().device_info(), None);
        if let Some(n) = t.nodes.get_mut(top.0) {
            n.info.open_count = 2;
            n.info.target_count = 3;
            n.info.live_table = 1;
            n.info.suspended = 1;
            n.info.event_nr = 7;
        }
        let i = t.node(top).unwrap().device_info().unwrap();
        assert_eq!(i.name, b"top");
        assert_eq!(i.uuid, b"LVM-top");
        assert_eq!((i.major, i.minor), (253, 3));
        assert_eq!((i.open_count, i.target_count, i.event_nr), (2, 3, 7));
        assert!(i.live_table && i.suspended && !i.read_only && !i.inactive_table);
        assert_eq!(i.dev_ref().unwrap().to_string(), "253:3");
        // Not a mapped device: no typed info.
        let leaf = t.add_dev(7, 3).unwrap();
        assert_eq!(t.node(leaf).unwrap().device_info(), None);
    }

    #[test]
    fn children_use_uuid_looks_one_level_down() {
        let ctx = Context::new();
        let (t, [top, mid, a, _]) = stack(&ctx);
        assert!(t.children_use_uuid(top, Some(b"LVM-"), 4));
        assert!(!t.children_use_uuid(top, Some(b"OTHER"), 5));
        assert!(t.children_use_uuid(mid, Some(b"OTHER"), 5));
        // "a" uses only the root, whose uuid is empty
        assert!(!t.children_use_uuid(a, Some(b"LVM-"), 4));
        assert!(t.children_use_uuid(a, Some(b"LVM-"), 0));
        assert!(t.children_use_uuid(a, None, 0));
        // the grandchildren of top are not considered
        assert!(!t.children_use_uuid(top, Some(b"OTHER"), 5));
    }

    #[test]
    fn uuid_prefix_rules() {
        let d = b"LVM-";
        assert!(uuid_prefix_matches(b"x", None, 0, d));
        assert!(uuid_prefix_matches(b"LVM-abc", Some(b"LVM-"), 4, d));
        assert!(uuid_prefix_matches(b"LVM-abc", Some(b"LVM-abZ"), 6, d));
        assert!(!uuid_prefix_matches(b"LVM-abc", Some(b"LVM-abZ"), 7, d));
        // a prefix longer than the string must match up to its NUL
        assert!(!uuid_prefix_matches(b"LVM-abc", Some(b"LVM-"), 10, d));
        assert!(uuid_prefix_matches(b"LVM-", Some(b"LVM-"), 10, d));
        // transition: the uuid lacks the default prefix
        assert!(uuid_prefix_matches(b"abcdef", Some(b"LVM-abc"), 7, d));
        assert!(!uuid_prefix_matches(b"abcdef", Some(b"LVM-abc"), 4, d));
        assert!(!uuid_prefix_matches(b"LVM-xyz", Some(b"LVM-abc"), 7, d));
        assert!(!uuid_prefix_matches(b"abcdef", Some(b"XYZ-abc"), 7, d));
        // a default prefix longer than the given length: whole-string match
        assert!(uuid_prefix_matches(
            b"ab",
            Some(b"LONGPREFIX-ab"),
            5,
            b"LONGPREFIX-"
        ));
        assert!(!uuid_prefix_matches(
            b"abc",
            Some(b"LONGPREFIX-ab"),
            5,
            b"LONGPREFIX-"
        ));
    }

    #[test]
    fn add_dev_of_a_non_dm_device_is_a_leaf() {
        // Without /proc/devices access a major is not dm's; 7 (loop) never is.
        let ctx = Context::new();
        let mut t = Tree::new(&ctx);
        let id = t.add_dev(7, 3).unwrap();
        let n = t.node(id).unwrap();
        assert_eq!(n.devno(), (7, 3));
        assert_eq!(n.name(), b"");
        assert_eq!(n.info().exists, 0);
        assert!(!n.is_implicit());
        assert_eq!(names(&t, NodeId::ROOT, false), [""]);
        assert_eq!(names(&t, id, false), ["<root>"]);
        assert_eq!(t.find_node(7, 3), Some(id));
        // adding it again finds the same node
        assert_eq!(t.add_dev_with_udev_flags(7, 3, 0x40).unwrap(), id);
        assert_eq!(t.len(), 2);
        assert_eq!(t.node(id).unwrap().udev_flags(), 0);
    }
}
