//! Plain dm-crypt: a random key held in a `Secret` (wiped when dropped,
//! never printed), a `crypt` device over a loop device, data encrypted on
//! the disk, then the key removed and set again with the `key wipe` and
//! `key set` messages while the device is suspended.
//!
//! The key never appears in this program's output, in errors or in `Debug`
//! output: `CryptKey` and `CryptParams` print it as `<hidden>`, and the
//! `key set` message (`CryptMessage::SetKey`) is hex-encoded straight into a
//! wiped buffer sized up front and travels with the kernel's secure-data
//! flag.
//!
//! Needs root and device-mapper (run it in the test VM:
//! `vm/run.sh -- target/release/examples/crypt`).

mod common;

use common::*;
use devmapper::targets::messages::CryptMessage;
use devmapper::targets::{CipherSpec, CryptKey, CryptParams, Table, Target, TargetStatusLine};
use devmapper::units::Sectors;
use devmapper::{CreateOptions, Secret, SuspendOptions};

fn main() -> Res<()> {
    let mut lab = Lab::new("crypt")?;
    let dm = lab.dm.clone();
    let disk = lab.loop_device("disk", mib(16)?)?;

    // A 512-bit key for aes-xts-plain64, read straight into a Secret.
    let key = random_key(64)?;
    let params = CryptParams::new(
        CipherSpec::new("aes", "xts", "plain64"),
        key.clone(),
        disk.dev.clone(),
        Sectors(0),
    );
    println!(
        "cipher {:?}, key {:?} (as Debug prints them)",
        params.cipher, params.key
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
            check(p.key == key, "the kernel holds the key we gave it")?;
        }
        other => return Err(format!("unexpected table: {other:?}").into()),
    }
    // crypt reports no status fields.
    for line in dev.typed_status()? {
        check(
            line.status == TargetStatusLine::Crypt,
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
    dev.send(&CryptMessage::WipeKey)?;
    println!("suspended, sent `key wipe`");
    // Resuming without a key fails: the error says so, the device stays
    // suspended.
    match dev.resume() {
        Err(e) => println!("  resume without a key: {e}"),
        Ok(_) => return Err("resume succeeded without a key".into()),
    }

    // A wrong key: the device works, but the data is noise.
    let wrong = random_key(64)?;
    dev.send(&CryptMessage::SetKey(&wrong))?;
    dev.resume()?;
    println!("set another key (`key set <hex>`, not shown) and resumed");
    let garbled = read_direct(&node, 0, BLOCK)?;
    check(garbled != plain, "with the wrong key the plaintext is gone")?;

    // The right key again.
    dev.suspend(SuspendOptions::default())?;
    dev.send(&CryptMessage::SetKey(&key))?;
    dev.resume()?;
    println!("set the original key again and resumed");
    check(
        read_direct(&node, 0, BLOCK)? == plain,
        "the plaintext is back",
    )?;
    println!("done; the key buffers are wiped as they are dropped");
    Ok(())
}

/// A raw key of `len` random bytes from the kernel, read straight into a
/// wiped-on-drop buffer.
fn random_key(len: usize) -> Res<CryptKey> {
    let mut urandom = std::fs::File::open("/dev/urandom")?;
    Ok(CryptKey::Raw(Secret::from_reader(&mut urandom, len)?))
}
