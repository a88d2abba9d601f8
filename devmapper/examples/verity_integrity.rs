//! Data integrity: a standalone `integrity` device (direct mode, crc32c
//! tags: the kernel formats the zeroed disk, reports how much it provides,
//! and catches a byte flipped behind its back), then a `verity` device over
//! a SHA-256 hash tree that this program computes itself (format version 1,
//! salted, two levels; no veritysetup needed), which fails reads of a block
//! changed on the disk and reports itself corrupted.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/verity_integrity`).

mod common;

use common::*;
use devmapper::targets::{
    IntegrityAlgorithm, IntegrityMode, IntegrityOption, IntegrityOptions, IntegrityParams,
    IntegrityStatus, Table, TagSize, VerityHashState, VerityParams, VerityStatus,
};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, Device};
use std::os::unix::fs::FileExt;

fn main() -> Res<()> {
    let mut lab = Lab::new("verity")?;
    integrity(&mut lab)?;
    verity(&mut lab)?;
    println!("done");
    Ok(())
}

fn integrity(lab: &mut Lab) -> Res<()> {
    let dm = lab.dm.clone();
    let disk = lab.loop_device("integrity", mib(16)?)?;
    let params = IntegrityParams {
        device: disk.dev.clone(),
        offset: Sectors(0),
        tag_size: TagSize::Bytes(4),
        mode: IntegrityMode::Direct,
        options: IntegrityOptions(vec![IntegrityOption::InternalHash(
            IntegrityAlgorithm::new("crc32c"),
        )]),
    };
    // The first load formats the disk; the kernel then says how many sectors
    // are left for data once the tags have their space, and the device is
    // given exactly that size.
    let name = lab.name("integrity")?;
    let dev = dm.create_device(
        &name,
        &CreateOptions::default(),
        &Table::single(Sectors(8), params.clone())?,
    )?;
    let provided = integrity_status(&dev)?.provided_data_sectors;
    println!(
        "formatted {}: {provided} of {} sectors provided for data",
        disk.path.display(),
        disk.size
    );
    dev.replace_table(&Table::single(provided, params)?)?;
    print!("{name}:\n{}", show(&dev.typed_table()?));
    let node = dev.path()?;

    // Only written blocks have valid tags (a real user would wipe the device
    // first, as `integritysetup format` does).
    let data = pattern("integrity-protected ", 64 << 10);
    write_direct(&node, 0, &data)?;
    check(
        read_direct(&node, 0, data.len())? == data,
        "written data reads back",
    )?;
    check(
        integrity_status(&dev)?.mismatches == 0,
        "no mismatches so far",
    )?;

    // Flip one byte of the first data sector in the backing file.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&disk.file)?;
    let at = find(&file, &data[..512])?.ok_or("data sector not found on the disk")?;
    println!("  first data sector found at byte {at} of the disk; flipping a byte");
    file.write_all_at(b"!", at + 100)?;
    file.sync_all()?;
    match read_direct(&node, 0, 4096) {
        Err(e) => println!("  reading it back: {e}"),
        Ok(_) => return Err("the corrupted sector read back without error".into()),
    }
    let st = integrity_status(&dev)?;
    check(st.mismatches >= 1, "the mismatch is counted")?;
    check(
        read_direct(&node, 8192, 4096)? == data[8192..12288],
        "other sectors still read fine",
    )?;
    Ok(())
}

fn integrity_status(dev: &Device) -> Res<IntegrityStatus> {
    let s = dev.status_of::<IntegrityStatus>()?;
    println!(
        "  integrity status: {} mismatches, {} sectors provided, recalculating: {:?}",
        s.mismatches, s.provided_data_sectors, s.recalculate_sector
    );
    Ok(s)
}

/// The byte offset of the first 512-byte-aligned sector equal to `sector`.
fn find(file: &std::fs::File, sector: &[u8]) -> Res<Option<u64>> {
    let len = file.metadata()?.len();
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < len {
        let n = buf.len().min((len - off) as usize);
        file.read_exact_at(&mut buf[..n], off)?;
        if let Some(i) = buf[..n].chunks(512).position(|c| c == sector) {
            return Ok(Some(off + i as u64 * 512));
        }
        off += n as u64;
    }
    Ok(None)
}

const BLOCKS: u64 = 256; // 1 MiB of 4 KiB data blocks: a two-level tree
const SALT: &[u8] = b"rsex-verity-salt";

fn verity(lab: &mut Lab) -> Res<()> {
    let dm = lab.dm.clone();
    check(
        hex(&sha256::digest(&[b"a", b"bc"]))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "our SHA-256 gives the FIPS 180-4 answer for \"abc\"",
    )?;
    // The data, and its hash tree computed here.
    let mut data = Vec::with_capacity(BLOCKS as usize * BLOCK);
    for i in 0..BLOCKS {
        data.extend(pattern(&format!("verity block {i:03} "), BLOCK));
    }
    let (tree, root) = hash_tree(&data, SALT);
    println!(
        "computed a {}-block hash tree over {BLOCKS} data blocks; root digest {}",
        tree.len() / BLOCK,
        hex(&root)
    );
    let data_file = lab.scratch_file("verity-data", Sectors(BLOCKS * 8))?;
    std::fs::write(&data_file, &data)?;
    let hash_file = lab.scratch_file("verity-hash", mib(1)?)?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&hash_file)?
        .write_all_at(&tree, 0)?;
    let data_dev = lab.attach(&data_file)?;
    let hash_dev = lab.attach(&hash_file)?;

    let params = VerityParams {
        version: 1,
        data_dev: data_dev.dev.clone(),
        hash_dev: hash_dev.dev.clone(),
        data_block_size: BLOCK as u32,
        hash_block_size: BLOCK as u32,
        data_blocks: BLOCKS,
        hash_start: 0,
        algorithm: b"sha256".to_vec(),
        root_digest: root.to_vec(),
        salt: Some(SALT.to_vec()),
        options: Default::default(),
    };
    // verity devices must be read-only.
    let name = lab.name("verity")?;
    let opts = CreateOptions {
        read_only: true,
        ..Default::default()
    };
    let dev = dm.create_device(&name, &opts, &Table::single(Sectors(BLOCKS * 8), params)?)?;
    print!("created {name}:\n{}", show(&dev.typed_table()?));
    let node = dev.path()?;
    check(
        read_direct(&node, 0, data.len())? == data,
        "every block verifies against our tree",
    )?;
    check(
        verity_state(&dev)? == VerityHashState::Verified,
        "status: verified",
    )?;

    // Change block 5 on the data disk.
    let f = std::fs::OpenOptions::new().write(true).open(&data_file)?;
    f.write_all_at(b"tampered", 5 * BLOCK as u64 + 40)?;
    f.sync_all()?;
    println!("changed 8 bytes of block 5 on the data disk");
    match read_direct(&node, 5 * BLOCK as u64, BLOCK) {
        Err(e) => println!("  reading block 5: {e}"),
        Ok(_) => return Err("the tampered block read back without error".into()),
    }
    check(
        verity_state(&dev)? == VerityHashState::Corrupted,
        "status: corrupted",
    )?;
    check(
        read_direct(&node, 6 * BLOCK as u64, BLOCK)? == data[6 * BLOCK..7 * BLOCK],
        "the other blocks still verify",
    )?;
    Ok(())
}

fn verity_state(dev: &Device) -> Res<VerityHashState> {
    let s = dev.status_of::<VerityStatus>()?;
    println!(
        "  verity status: {:?} (FEC corrections: {:?})",
        s.state, s.fec_corrected
    );
    Ok(s.state)
}

/// The hash device contents and the root digest of a version 1 dm-verity
/// tree with 4 KiB blocks: level 0 holds the digests of the data blocks,
/// each level above the digests of the blocks below, 128 digests of 32
/// bytes per block; every digest is SHA-256(salt || block). On the device
/// the top level comes first, then each level below it.
fn hash_tree(data: &[u8], salt: &[u8]) -> (Vec<u8>, [u8; 32]) {
    let digests_of = |blocks: &[u8]| -> Vec<u8> {
        let mut level = Vec::new();
        for chunk in blocks.chunks(BLOCK * 128) {
            let mut hb = vec![0u8; BLOCK];
            for (i, b) in chunk.chunks(BLOCK).enumerate() {
                hb[i * 32..i * 32 + 32].copy_from_slice(&sha256::digest(&[salt, b]));
            }
            level.extend(hb);
        }
        level
    };
    let mut levels = vec![digests_of(data)];
    while levels.last().map_or(0, Vec::len) > BLOCK {
        let above = digests_of(levels.last().map(Vec::as_slice).unwrap_or_default());
        levels.push(above);
    }
    let top = levels.last().map(Vec::as_slice).unwrap_or_default();
    let root = sha256::digest(&[salt, top]);
    let tree = levels.iter().rev().flatten().copied().collect();
    (tree, root)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 (FIPS 180-4), enough for building a hash tree.
mod sha256 {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];

    /// The digest of the concatenation of `parts`.
    pub fn digest(parts: &[&[u8]]) -> [u8; 32] {
        let mut h: [u32; 8] = [
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ];
        let mut msg: Vec<u8> = parts.concat();
        let bits = (msg.len() as u64).wrapping_mul(8);
        msg.push(0x80);
        while msg.len() % 64 != 56 {
            msg.push(0);
        }
        msg.extend_from_slice(&bits.to_be_bytes());
        for block in msg.chunks_exact(64) {
            let mut w = [0u32; 64];
            for (i, word) in block.chunks_exact(4).enumerate() {
                w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
            }
            for i in 16..64 {
                let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
                let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16]
                    .wrapping_add(s0)
                    .wrapping_add(w[i - 7])
                    .wrapping_add(s1);
            }
            let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
            for i in 0..64 {
                let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
                let ch = (e & f) ^ (!e & g);
                let t1 = hh
                    .wrapping_add(s1)
                    .wrapping_add(ch)
                    .wrapping_add(K[i])
                    .wrapping_add(w[i]);
                let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
                let maj = (a & b) ^ (a & c) ^ (b & c);
                let t2 = s0.wrapping_add(maj);
                hh = g;
                g = f;
                f = e;
                e = d.wrapping_add(t1);
                d = c;
                c = b;
                b = a;
                a = t1.wrapping_add(t2);
            }
            for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
                *x = x.wrapping_add(y);
            }
        }
        let mut out = [0u8; 32];
        for (o, x) in out.chunks_exact_mut(4).zip(h) {
            o.copy_from_slice(&x.to_be_bytes());
        }
        out
    }
}
