//! The wire layouts of `dm-log-userspace` (`linux/dm-log-userspace.h`,
//! request version 3) and of the netlink connector that carries them
//! (`linux/connector.h`, `linux/netlink.h`).
//!
//! Hand-written `#[repr(C)]` structs with compile-time size and offset
//! checks. The codec ([`super::codec`]) reads and writes these fields at
//! these offsets in native byte order (netlink is host-endian); nothing here
//! performs I/O.

use std::mem::{offset_of, size_of};

/// Connector index of device-mapper (`CN_IDX_DM`).
pub const CN_IDX_DM: u32 = 0x7;
/// Connector value of the userspace dirty log (`CN_VAL_DM_USERSPACE_LOG`).
pub const CN_VAL_DM_USERSPACE_LOG: u32 = 0x1;
/// `NETLINK_CONNECTOR`: the netlink protocol of the connector.
pub const NETLINK_CONNECTOR: i32 = 11;
/// `SOL_NETLINK`: the socket option level of netlink options.
pub const SOL_NETLINK: i32 = 270;
/// `NETLINK_ADD_MEMBERSHIP`: join a multicast group.
pub const NETLINK_ADD_MEMBERSHIP: i32 = 1;

/// `NLMSG_NOOP`.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: the type of every connector message, both ways.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`.
pub const NLMSG_OVERRUN: u16 = 4;
/// Netlink messages are aligned to 4 bytes (`NLMSG_ALIGNTO`).
pub const NLMSG_ALIGNTO: usize = 4;

/// `DM_ULOG_REQUEST_VERSION` this module speaks (3: integrated flush).
pub const DM_ULOG_REQUEST_VERSION: u32 = 3;
/// `DM_ULOG_REQUEST_MASK`: the request type is the low byte of
/// `request_type`; the other 24 bits are reserved.
pub const DM_ULOG_REQUEST_MASK: u32 = 0xff;
/// `DM_UUID_LEN`: the uuid field, NUL included.
pub const DM_UUID_LEN: usize = 129;
/// `DM_NAME_LEN`: the longest device name the kernel accepts back from a
/// CTR reply, NUL included.
pub const DM_NAME_LEN: usize = 128;

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDR_SIZE: usize = 16;
/// Size of `struct cn_msg` (without its flexible `data`).
pub const CN_MSG_SIZE: usize = 20;
/// Size of `struct dm_ulog_request` (without its flexible `data`).
pub const REQUEST_SIZE: usize = 160;
/// The kernel's preallocated transfer buffer (`DM_ULOG_PREALLOCED_SIZE`):
/// `cn_msg` + request + payload must fit.
pub const PREALLOCED_SIZE: usize = 512;
/// The largest payload the kernel sends: 512 - 20 - 160 = 332 bytes.
pub const MAX_PAYLOAD: usize = PREALLOCED_SIZE - CN_MSG_SIZE - REQUEST_SIZE;
/// The kernel groups at most this many regions in one MARK/CLEAR/FLUSH
/// (`MAX_FLUSH_GROUP_COUNT`).
pub const MAX_FLUSH_GROUP_COUNT: usize = 32;
/// Seconds the kernel waits for a reply before it resends a request
/// (`DM_ULOG_RETRY_TIMEOUT`).
pub const RETRY_TIMEOUT_SECS: u64 = 15;
/// The largest reply payload this module ever sends (a CTR reply carries a
/// device name of at most [`DM_NAME_LEN`] bytes; status lines are shorter).
pub const MAX_REPLY_PAYLOAD: usize = 256;
/// Bytes of a whole reply datagram at most.
pub const MAX_REPLY_FRAME: usize = NLMSG_HDR_SIZE + CN_MSG_SIZE + REQUEST_SIZE + MAX_REPLY_PAYLOAD;

/// `struct nlmsghdr`.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NlMsgHdr {
    pub nlmsg_len: u32,
    pub nlmsg_type: u16,
    pub nlmsg_flags: u16,
    pub nlmsg_seq: u32,
    pub nlmsg_pid: u32,
}

/// `struct cb_id`: which connector callback a message is for.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CbId {
    pub idx: u32,
    pub val: u32,
}

/// `struct cn_msg`, followed by `len` bytes of data.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CnMsg {
    pub id: CbId,
    pub seq: u32,
    pub ack: u32,
    pub len: u16,
    pub flags: u16,
}

/// `struct dm_ulog_request`, followed by `data_size` bytes of payload.
#[allow(missing_docs)]
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DmUlogRequest {
    pub luid: u64,
    pub uuid: [u8; DM_UUID_LEN],
    pub padding: [u8; 3],
    pub version: u32,
    pub error: i32,
    pub seq: u32,
    pub request_type: u32,
    pub data_size: u32,
}

impl Default for DmUlogRequest {
    fn default() -> Self {
        DmUlogRequest {
            luid: 0,
            uuid: [0; DM_UUID_LEN],
            padding: [0; 3],
            version: 0,
            error: 0,
            seq: 0,
            request_type: 0,
            data_size: 0,
        }
    }
}

impl std::fmt::Debug for DmUlogRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let end = self
            .uuid
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(DM_UUID_LEN);
        f.debug_struct("DmUlogRequest")
            .field("luid", &self.luid)
            .field(
                "uuid",
                &String::from_utf8_lossy(self.uuid.get(..end).unwrap_or(&[])),
            )
            .field("version", &self.version)
            .field("error", &self.error)
            .field("seq", &self.seq)
            .field("request_type", &self.request_type)
            .field("data_size", &self.data_size)
            .finish()
    }
}

// Layouts checked against the kernel headers at compile time.
const _: () = {
    assert!(size_of::<NlMsgHdr>() == NLMSG_HDR_SIZE);
    assert!(offset_of!(NlMsgHdr, nlmsg_type) == 4);
    assert!(offset_of!(NlMsgHdr, nlmsg_flags) == 6);
    assert!(offset_of!(NlMsgHdr, nlmsg_seq) == 8);
    assert!(offset_of!(NlMsgHdr, nlmsg_pid) == 12);

    assert!(size_of::<CnMsg>() == CN_MSG_SIZE);
    assert!(offset_of!(CnMsg, id) == 0);
    assert!(offset_of!(CbId, val) == 4);
    assert!(offset_of!(CnMsg, seq) == 8);
    assert!(offset_of!(CnMsg, ack) == 12);
    assert!(offset_of!(CnMsg, len) == 16);
    assert!(offset_of!(CnMsg, flags) == 18);

    assert!(size_of::<DmUlogRequest>() == REQUEST_SIZE);
    assert!(offset_of!(DmUlogRequest, luid) == 0);
    assert!(offset_of!(DmUlogRequest, uuid) == 8);
    assert!(offset_of!(DmUlogRequest, padding) == 137);
    assert!(offset_of!(DmUlogRequest, version) == 140);
    assert!(offset_of!(DmUlogRequest, error) == 144);
    assert!(offset_of!(DmUlogRequest, seq) == 148);
    assert!(offset_of!(DmUlogRequest, request_type) == 152);
    assert!(offset_of!(DmUlogRequest, data_size) == 156);

    assert!(MAX_PAYLOAD == 332);
    assert!(MAX_FLUSH_GROUP_COUNT * 8 <= MAX_PAYLOAD);
    assert!(DM_NAME_LEN <= MAX_REPLY_PAYLOAD);
};

/// Byte offsets of the fields of `struct nlmsghdr`, for the codec.
pub mod nl_off {
    use super::*;
    /// `nlmsg_len`.
    pub const LEN: usize = offset_of!(NlMsgHdr, nlmsg_len);
    /// `nlmsg_type`.
    pub const TYPE: usize = offset_of!(NlMsgHdr, nlmsg_type);
    /// `nlmsg_flags`.
    pub const FLAGS: usize = offset_of!(NlMsgHdr, nlmsg_flags);
    /// `nlmsg_seq`.
    pub const SEQ: usize = offset_of!(NlMsgHdr, nlmsg_seq);
    /// `nlmsg_pid`.
    pub const PID: usize = offset_of!(NlMsgHdr, nlmsg_pid);
}

/// Byte offsets of the fields of `struct cn_msg`, for the codec.
pub mod cn_off {
    use super::*;
    /// `id.idx`.
    pub const IDX: usize = offset_of!(CnMsg, id) + offset_of!(CbId, idx);
    /// `id.val`.
    pub const VAL: usize = offset_of!(CnMsg, id) + offset_of!(CbId, val);
    /// `seq`.
    pub const SEQ: usize = offset_of!(CnMsg, seq);
    /// `ack`.
    pub const ACK: usize = offset_of!(CnMsg, ack);
    /// `len`.
    pub const LEN: usize = offset_of!(CnMsg, len);
    /// `flags`.
    pub const FLAGS: usize = offset_of!(CnMsg, flags);
}

/// Byte offsets of the fields of `struct dm_ulog_request`, for the codec.
pub mod rq_off {
    use super::*;
    /// `luid`.
    pub const LUID: usize = offset_of!(DmUlogRequest, luid);
    /// `uuid`.
    pub const UUID: usize = offset_of!(DmUlogRequest, uuid);
    /// `padding`.
    pub const PADDING: usize = offset_of!(DmUlogRequest, padding);
    /// `version`.
    pub const VERSION: usize = offset_of!(DmUlogRequest, version);
    /// `error`.
    pub const ERROR: usize = offset_of!(DmUlogRequest, error);
    /// `seq`.
    pub const SEQ: usize = offset_of!(DmUlogRequest, seq);
    /// `request_type`.
    pub const REQUEST_TYPE: usize = offset_of!(DmUlogRequest, request_type);
    /// `data_size`.
    pub const DATA_SIZE: usize = offset_of!(DmUlogRequest, data_size);
}

/// The request types of version 3 (`DM_ULOG_*`), named after the dirty-log
/// methods of `linux/dm-dirty-log.h` they carry.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestType {
    /// `DM_ULOG_CTR`: construct a log from the table's arguments.
    Ctr = 1,
    /// `DM_ULOG_DTR`: destroy it.
    Dtr = 2,
    /// `DM_ULOG_PRESUSPEND`.
    Presuspend = 3,
    /// `DM_ULOG_POSTSUSPEND`: the device is suspended; commit the log.
    Postsuspend = 4,
    /// `DM_ULOG_RESUME`: load (or initialise) the bits; recovery restarts.
    Resume = 5,
    /// `DM_ULOG_GET_REGION_SIZE`: u64 reply.
    GetRegionSize = 6,
    /// `DM_ULOG_IS_CLEAN`: u64 region in, s64 reply.
    IsClean = 7,
    /// `DM_ULOG_IN_SYNC`: u64 region in, s64 reply.
    InSync = 8,
    /// `DM_ULOG_FLUSH`: commit; may carry regions to mark (integrated flush).
    Flush = 9,
    /// `DM_ULOG_MARK_REGION`: u64 regions in.
    MarkRegion = 10,
    /// `DM_ULOG_CLEAR_REGION`: u64 regions in.
    ClearRegion = 11,
    /// `DM_ULOG_GET_RESYNC_WORK`: `{s64, u64}` reply.
    GetResyncWork = 12,
    /// `DM_ULOG_SET_REGION_SYNC`: `{u64 region, s64 in_sync}` in.
    SetRegionSync = 13,
    /// `DM_ULOG_GET_SYNC_COUNT`: u64 reply.
    GetSyncCount = 14,
    /// `DM_ULOG_STATUS_INFO`: string reply.
    StatusInfo = 15,
    /// `DM_ULOG_STATUS_TABLE`: string reply.
    StatusTable = 16,
    /// `DM_ULOG_IS_REMOTE_RECOVERING`: u64 region in, `{s64, u64}` reply.
    IsRemoteRecovering = 17,
}

impl RequestType {
    /// Every request type, in numeric order.
    pub const ALL: [RequestType; 17] = [
        RequestType::Ctr,
        RequestType::Dtr,
        RequestType::Presuspend,
        RequestType::Postsuspend,
        RequestType::Resume,
        RequestType::GetRegionSize,
        RequestType::IsClean,
        RequestType::InSync,
        RequestType::Flush,
        RequestType::MarkRegion,
        RequestType::ClearRegion,
        RequestType::GetResyncWork,
        RequestType::SetRegionSync,
        RequestType::GetSyncCount,
        RequestType::StatusInfo,
        RequestType::StatusTable,
        RequestType::IsRemoteRecovering,
    ];

    /// The type of a raw `request_type` field (its low byte, as
    /// `DM_ULOG_REQUEST_TYPE()` reads it); `None` for 0 and 18..=255.
    pub fn from_raw(raw: u32) -> Option<RequestType> {
        let t = (raw & DM_ULOG_REQUEST_MASK) as usize;
        if t == 0 {
            return None;
        }
        RequestType::ALL.get(t - 1).copied()
    }

    /// The `DM_ULOG_*` name without its prefix, e.g. `"IS_CLEAN"`.
    pub fn name(self) -> &'static str {
        match self {
            RequestType::Ctr => "CTR",
            RequestType::Dtr => "DTR",
            RequestType::Presuspend => "PRESUSPEND",
            RequestType::Postsuspend => "POSTSUSPEND",
            RequestType::Resume => "RESUME",
            RequestType::GetRegionSize => "GET_REGION_SIZE",
            RequestType::IsClean => "IS_CLEAN",
            RequestType::InSync => "IN_SYNC",
            RequestType::Flush => "FLUSH",
            RequestType::MarkRegion => "MARK_REGION",
            RequestType::ClearRegion => "CLEAR_REGION",
            RequestType::GetResyncWork => "GET_RESYNC_WORK",
            RequestType::SetRegionSync => "SET_REGION_SYNC",
            RequestType::GetSyncCount => "GET_SYNC_COUNT",
            RequestType::StatusInfo => "STATUS_INFO",
            RequestType::StatusTable => "STATUS_TABLE",
            RequestType::IsRemoteRecovering => "IS_REMOTE_RECOVERING",
        }
    }

    /// The exact reply payload size the kernel expects on success, when it
    /// is fixed (`None`: a string, or a device name for CTR).
    pub fn reply_size(self) -> Option<usize> {
        match self {
            RequestType::GetRegionSize
            | RequestType::IsClean
            | RequestType::InSync
            | RequestType::GetSyncCount => Some(8),
            RequestType::GetResyncWork | RequestType::IsRemoteRecovering => Some(16),
            RequestType::Ctr | RequestType::StatusInfo | RequestType::StatusTable => None,
            _ => Some(0),
        }
    }
}

impl std::fmt::Display for RequestType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_types_round_trip() {
        for (i, t) in RequestType::ALL.iter().enumerate() {
            assert_eq!(*t as u32, i as u32 + 1);
            assert_eq!(RequestType::from_raw(*t as u32), Some(*t));
            // The reserved upper 24 bits are ignored, as DM_ULOG_REQUEST_TYPE does.
            assert_eq!(RequestType::from_raw(0xabcd_ef00 | *t as u32), Some(*t));
        }
        assert_eq!(RequestType::from_raw(0), None);
        assert_eq!(RequestType::from_raw(18), None);
        assert_eq!(RequestType::from_raw(255), None);
        assert_eq!(RequestType::from_raw(0x100), None);
    }

    #[test]
    fn sizes_match_the_kernel() {
        assert_eq!(MAX_PAYLOAD, 332);
        assert_eq!(MAX_REPLY_FRAME, 16 + 20 + 160 + 256);
        assert_eq!(RequestType::IsClean.reply_size(), Some(8));
        assert_eq!(RequestType::GetResyncWork.reply_size(), Some(16));
        assert_eq!(RequestType::Flush.reply_size(), Some(0));
        assert_eq!(RequestType::StatusInfo.reply_size(), None);
    }
}
