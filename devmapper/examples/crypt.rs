//! Plain dm-crypt: a random key held in a `Secret` (wiped when dropped,
//! never printed), a `crypt` device over a loop device, data encrypted on
//! the disk, then the key removed and set again with the `key wipe` and
//! `key set` messages while the device is suspended.
//!
//! The key never appears in this program's output, in errors or in `Debug`
//! output: `CryptKey` and `CryptParams` print it as `<hidden>`, and the
//! `key set` message travels with the kernel's secure-data flag (its buffer
//! is wiped).
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/crypt`).

mod common;

use common::*;
use devmapper::targets::{CipherSpec, CryptKey, CryptParams, Table, Target, TargetStatusLine};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, Secret, SuspendOptions};
use std::io::Read;

fn main() -> Res<()> {
    let mut lab = Lab::new("crypt")?;
    let dm = lab.dm.clone();
    let disk = lab.loop_device("disk", mib(16))?;

    // A 512-bit key for aes-xts-plain64, read straight into a Secret.
    let key = random_secret(64)?;
    let params = CryptParams::new(
        CipherSpec::new("aes", "xts", "plain64"),
        CryptKey::Raw(key.clone()),
        disk.dev.clone(),
        Sectors(0),
    );
    println!(
        "key in the parameters, as Debug prints it: {:?}",
        params.key
    );
    let table = Table::single(disk.size, params)?;
    let name = lab.name("secret")?;
    let dev = dm.create_device(&name, &CreateOptions::default(), &table)?;
    let node = dev.path()?;
    println!("created {name}: {}", node.display());

    // The table read back holds the key in a Secret too; compare, never print.
    let back = dev.typed_table()?;
    print!("table read back:\n{}", show(&back));
    match back.lines().first().map(|l| &l.target) {
        Some(Target::Crypt(p)) => {
            println!("  cipher {}", String::from_utf8_lossy(&p.cipher.to_bytes()));
            println!("  key {:?}", p.key);
            let same = matches!(&p.key, CryptKey::Raw(k) if k.as_bytes() == key.as_bytes());
            check(same, "the kernel holds the key we gave it")?;
        }
        other => return Err(format!("unexpected table: {other:?}").into()),
    }
    // crypt reports no status fields.
    for (_, _, st) in dev.typed_status()? {
        check(
            st == TargetStatusLine::Crypt,
            "typed status: crypt (no fields)",
        )?;
    }

    // Plaintext in, ciphertext on the disk.
    let plain = pattern("attack at dawn. ", BLOCK);
    write_direct(&node, 0, &plain)?;
    let on_disk = read_direct(&disk.path, 0, BLOCK)?;
    println!("  on the disk: {:?}...", preview(&on_disk));
    check(on_disk != plain, "the disk holds ciphertext")?;

    // Key messages need the device suspended.
    dev.suspend(SuspendOptions::default())?;
    dev.message(0, b"key wipe")?;
    println!("suspended, sent `key wipe`");
    // Resuming without a key fails: the error says so, the device stays
    // suspended.
    match dev.resume() {
        Err(e) => println!("  resume without a key: {e}"),
        Ok(_) => return Err("resume succeeded without a key".into()),
    }

    // A wrong key: the device works, but the data is noise.
    let wrong = random_secret(64)?;
    dev.message(0, key_set_message(&wrong)?.as_bytes())?;
    dev.resume()?;
    println!("set another key (`key set <hex>`, not shown) and resumed");
    let garbled = read_direct(&node, 0, BLOCK)?;
    check(garbled != plain, "with the wrong key the plaintext is gone")?;

    // The right key again.
    dev.suspend(SuspendOptions::default())?;
    dev.message(0, key_set_message(&key)?.as_bytes())?;
    dev.resume()?;
    println!("set the original key again and resumed");
    check(
        read_direct(&node, 0, BLOCK)? == plain,
        "the plaintext is back",
    )?;
    println!("done; the key buffers are wiped as they are dropped");
    Ok(())
}

/// `len` random bytes from the kernel, in a wiped-on-drop buffer.
fn random_secret(len: usize) -> Res<Secret> {
    let mut s = Secret::new(vec![0u8; len]);
    std::fs::File::open("/dev/urandom")?.read_exact(s.vec_mut())?;
    Ok(s)
}

/// `key set <hex>`, built in a Secret sized up front (so the buffer that
/// holds the hex key is never reallocated and left behind unwiped).
fn key_set_message(key: &Secret) -> Res<Secret> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut m = Secret::try_with_capacity(8 + 2 * key.len()).ok_or("out of memory")?;
    let mut ok = m.push_within_capacity(b"key set ");
    for &b in key.as_bytes() {
        ok &= m.push_within_capacity(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
    }
    if !ok {
        return Err("message buffer too small".into());
    }
    Ok(m)
}
